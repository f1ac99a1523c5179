"""IRT calibration engine: 1PL/2PL item parameters and person abilities.

Plain numpy/scipy code with no Django dependency, so it can be tested and
benchmarked alone. The estimators do not log; they return diagnostics in
:class:`CalibrationResult` and warn with :class:`ConvergenceWarning`.

* :class:`JointMLE` -- joint maximum likelihood (2PL or 1PL); fast on dense
  data, but overestimates discrimination when persons answer few items.
* :class:`MarginalMLE` -- Bock-Aitkin marginal maximum likelihood with EAP
  abilities; the default for sparse or adaptive data.
"""

from .exceptions import ConvergenceWarning, IRTInputError
from .jmle import JointMLE
from .mml import MarginalMLE
from .responses import ResponseMatrix
from .result import CalibrationResult

__all__ = [
    "CalibrationResult",
    "ConvergenceWarning",
    "IRTInputError",
    "JointMLE",
    "MarginalMLE",
    "ResponseMatrix",
]
