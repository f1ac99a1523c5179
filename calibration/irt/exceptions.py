"""Exceptions and warnings raised by the calibration engine."""


class IRTInputError(ValueError):
    """Response data that cannot be calibrated.

    The message names the problem and the offending index or value.
    """


class ConvergenceWarning(UserWarning):
    """An estimator stopped before its convergence rule was met.

    The message says what to change (usually ``max_iter`` or ``tol``).
    """
