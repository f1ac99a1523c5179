"""Behaviour shared by the estimators (internal)."""

import numpy as np

from .exceptions import IRTInputError

__all__ = ["EstimatorBase", "DEFAULT_A_BOUNDS", "DEFAULT_B_BOUND"]

#: Discrimination is kept positive and below a value no real item reaches;
#: an estimate on a bound means the item carries almost no information
#: (lower) or separates persons like a step function (upper).
DEFAULT_A_BOUNDS = (0.05, 6.0)

#: Difficulty beyond 8 standard deviations of ability is not estimable from
#: any realistic sample; items that drift there are flagged.
DEFAULT_B_BOUND = 8.0

_PUBLISHED = (
    "discrimination",
    "difficulty",
    "se_discrimination",
    "se_difficulty",
    "ability",
    "se_ability",
    "converged",
    "n_iter",
    "log_likelihood",
)


class EstimatorBase:
    """Parameter checks, bounds and publication of the result."""

    def _check_common(self):
        if int(self.max_iter) < 1:
            raise IRTInputError(f"max_iter must be at least 1; got {self.max_iter!r}")
        if not float(self.tol) > 0:
            raise IRTInputError(f"tol must be positive; got {self.tol!r}")
        low, high = self.a_bounds
        if not 0 < low < high:
            raise IRTInputError(
                f"a_bounds must satisfy 0 < low < high; got {self.a_bounds!r}"
            )
        if not float(self.b_bound) > 0:
            raise IRTInputError(f"b_bound must be positive; got {self.b_bound!r}")

    def _apply_bounds(self, a, c):
        """Clip slopes and difficulties; return ``a, c, at_bound``."""
        low, high = self.a_bounds
        a = np.clip(a, low, high)
        b = -c / a
        b_clipped = np.clip(b, -self.b_bound, self.b_bound)
        at_bound = (
            (a <= low * (1 + 1e-9))
            | (a >= high * (1 - 1e-9))
            | (np.abs(b_clipped) >= self.b_bound * (1 - 1e-9))
        )
        return a, -a * b_clipped, at_bound

    def _publish(self, result):
        self.result_ = result
        for name in _PUBLISHED:
            setattr(self, name + "_", getattr(result, name))
        return self

    def get_params(self):
        """Return the constructor arguments as a dict."""
        return {name: getattr(self, name) for name in self._param_names}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
