"""The outcome of a calibration and the item diagnostics it carries."""

import math
from dataclasses import dataclass, field

import numpy as np

from ._likelihood import joint_cells

__all__ = ["CalibrationResult", "item_diagnostics", "FEW_RESPONSES"]

#: Items answered fewer times are flagged "few_responses": below about 50
#: responses the standard error of a discrimination is of the order of 0.3.
FEW_RESPONSES = 50

#: Mean-square fit outside this band is flagged "misfit" (a common rule of
#: thumb for samples of a few hundred).
MISFIT_BAND = (0.7, 1.3)


def _plain(value):
    """Convert numpy scalars and arrays to JSON-safe Python values."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class CalibrationResult:
    """Item and person estimates of one calibration.

    Attributes
    ----------
    discrimination, difficulty : ndarray, shape (n_items,)
        2PL parameters ``a`` and ``b`` in ``P = 1 / (1 + exp(-a (theta - b)))``.
    se_discrimination, se_difficulty : ndarray, shape (n_items,)
        Standard errors (see the estimator for the information used).
    ability, se_ability : ndarray, shape (n_persons,)
        Person estimates and their standard errors.
    converged : bool
        Whether the estimator's convergence rule was met.
    n_iter : int
        Outer iterations run.
    log_likelihood : float
        Joint (JMLE) or marginal (MML) log-likelihood at the estimates.
    fit_seconds : float
        Wall time of ``fit``.
    method : str
        ``"jmle-2pl"``, ``"jmle-1pl"`` or ``"mml-2pl"``.
    item_diagnostics : dict of str to ndarray, shape (n_items,)
        ``n_responses``, ``p_value``, ``item_total_corr``, ``infit``,
        ``outfit`` and ``flag`` (comma-separated codes, ``""`` when fine).
    person_diagnostics : dict of str to ndarray, shape (n_persons,)
        ``n_responses``, ``raw_score`` and ``extreme`` (-1 zero score,
        +1 perfect score, 0 otherwise).
    convergence : dict
        The final values of the quantities the convergence rule tests.
    """

    discrimination: np.ndarray
    difficulty: np.ndarray
    se_discrimination: np.ndarray
    se_difficulty: np.ndarray
    ability: np.ndarray
    se_ability: np.ndarray
    converged: bool
    n_iter: int
    log_likelihood: float
    fit_seconds: float
    method: str
    item_diagnostics: dict = field(default_factory=dict)
    person_diagnostics: dict = field(default_factory=dict)
    convergence: dict = field(default_factory=dict)

    def summary(self):
        """Return the scalar facts of the fit as a JSON-safe dict."""
        flags = self.item_diagnostics.get("flag")
        n_flagged = 0 if flags is None else int(np.count_nonzero(flags != ""))
        return _plain(
            {
                "method": self.method,
                "n_persons": len(self.ability),
                "n_items": len(self.discrimination),
                "converged": bool(self.converged),
                "n_iter": int(self.n_iter),
                "log_likelihood": float(self.log_likelihood),
                "fit_seconds": float(self.fit_seconds),
                "n_items_flagged": n_flagged,
                "convergence": self.convergence,
            }
        )

    def to_dict(self, *, include_persons=True):
        """Return everything as plain lists and floats, ``None`` for non-finite.

        Parameters
        ----------
        include_persons : bool, default True
            Leave out the per-person arrays (large banks) when False.
        """
        out = self.summary()
        out["items"] = _plain(
            {
                "discrimination": self.discrimination,
                "difficulty": self.difficulty,
                "se_discrimination": self.se_discrimination,
                "se_difficulty": self.se_difficulty,
                **self.item_diagnostics,
            }
        )
        if include_persons:
            out["persons"] = _plain(
                {
                    "ability": self.ability,
                    "se_ability": self.se_ability,
                    **self.person_diagnostics,
                }
            )
        return out


def item_diagnostics(data, theta, a, c, *, at_bound):
    """Classical and fit statistics for every item.

    Parameters
    ----------
    data : ResponseMatrix
    theta : ndarray, shape (n_persons,)
        Ability estimates used for the infit/outfit residuals.
    a, c : ndarray, shape (n_items,)
        Slopes and intercepts.
    at_bound : ndarray of bool, shape (n_items,)
        Items whose discrimination or difficulty sits on its bound.

    Returns
    -------
    dict of str to ndarray, shape (n_items,)
        ``item_total_corr`` is the point-biserial correlation between the
        item and the person's proportion correct on their *other* answered
        items (so it works with missing data); nan becomes 0 when an item has
        no variance.
    """
    n_resp = data.item_counts()
    n_right = data.item_scores()
    p_value = n_right / n_resp
    person_n = data.person_counts()
    person_s = data.person_scores()

    # Sums over persons, accumulated over row blocks so that dense data
    # never needs more than one block of per-cell temporaries.
    sums = np.zeros((6, data.n_items))
    for rows, block in data.row_blocks():
        y = block.cell_y()
        # Rest score as a proportion, so persons with different numbers of
        # answered items are comparable.
        denom = np.maximum(person_n[rows] - 1.0, 1.0)
        rest = (block.cell_person(person_s[rows]) - y) / block.cell_person(denom)
        sums[0] += block.sum_over_persons(rest)
        sums[1] += block.sum_over_persons(rest * rest)
        sums[2] += block.sum_over_persons(y * rest)
        # Rasch-style mean squares of standardised residuals.
        _, p = joint_cells(block, theta[rows], a, c)
        var = np.maximum(p * (1.0 - p), 1e-12)
        sq = (y - p) ** 2
        sums[3] += block.sum_over_persons(sq / var)
        sums[4] += block.sum_over_persons(sq)
        sums[5] += block.sum_over_persons(var)
    s_r, s_rr, s_yr = sums[:3]
    cov = s_yr / n_resp - p_value * s_r / n_resp
    var_r = s_rr / n_resp - (s_r / n_resp) ** 2
    var_y = p_value * (1.0 - p_value)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.sqrt(var_y * var_r)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    outfit = sums[3] / n_resp
    infit = sums[4] / sums[5]

    flags = []
    for i in range(data.n_items):
        codes = []
        if n_resp[i] < FEW_RESPONSES:
            codes.append("few_responses")
        if p_value[i] in (0.0, 1.0):
            codes.append("no_variance")
        if at_bound[i]:
            codes.append("bound_reached")
        if not MISFIT_BAND[0] <= outfit[i] <= MISFIT_BAND[1]:
            codes.append("misfit")
        flags.append(",".join(codes))
    return {
        "n_responses": n_resp.astype(np.int64),
        "p_value": p_value,
        "item_total_corr": corr,
        "infit": infit,
        "outfit": outfit,
        "flag": np.array(flags, dtype=object),
    }


def person_diagnostics(data):
    """Return response counts, raw scores and extreme-score markers."""
    n = data.person_counts()
    s = data.person_scores()
    extreme = np.where(s == 0, -1, np.where(s == n, 1, 0)).astype(np.int8)
    return {
        "n_responses": n.astype(np.int64),
        "raw_score": s,
        "extreme": extreme,
    }


def slope_intercept_to_irt(a, c, cov_aa, cov_ac, cov_cc):
    """Convert ``(a, c)`` and their covariance to ``(a, b)`` and standard errors.

    ``b = -c / a``; its variance follows from the delta method,
    ``var b = (b^2 var a + 2 b cov(a, c) + var c) / a^2``.
    """
    b = -c / a
    with np.errstate(invalid="ignore"):
        var_b = (b * b * cov_aa + 2.0 * b * cov_ac + cov_cc) / (a * a)
    # A singular information block gives inf - inf: report an infinite error.
    var_b = np.where(np.isnan(var_b), np.inf, var_b)
    return b, np.sqrt(np.maximum(cov_aa, 0.0)), np.sqrt(np.maximum(var_b, 0.0))


def invert_2x2(h_aa, h_ac, h_cc):
    """Invert symmetric 2x2 information blocks given elementwise.

    Returns the covariance blocks; a singular block gives infinite variances.
    """
    det = h_aa * h_cc - h_ac * h_ac
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        cov = (h_cc * inv, -h_ac * inv, h_aa * inv)
    bad = ~(det > 1e-12)
    return tuple(np.where(bad, np.inf, v) for v in cov)
