"""Joint maximum likelihood (JMLE) for the 1PL and 2PL models.

Method
------
Abilities and item parameters are estimated together by alternating two
fully vectorised Fisher-scoring steps per iteration:

1. a person step: one Newton step for every non-extreme person at once,
   ``theta += sum_i a_i (y - P) / sum_i a_i^2 P Q`` (at most one logit);
2. an item step: one step for every free item at once, solving the 2x2
   expected-information system in slope-intercept form
   ``logit P = a theta + c`` (1PL: a step for each intercept, then one for
   the common slope).

Without anchors the scale is identified by standardising the abilities of
the non-extreme persons to mean 0 and standard deviation 1 after each person
step; the item parameters are transformed with them, so the likelihood is
unchanged by the rescaling. With anchor items the anchors' parameters are
held fixed and define the scale instead.

Persons with a zero or perfect raw score have no finite maximum likelihood
ability; they are left out of the item step. After convergence every
person's reported ability is the posterior mode (MAP) under a N(0, 1) prior
given the final items -- the scale the abilities were standardised to. It
is finite for zero and perfect scores and increases with the weighted score;
its standard error is ``1 / sqrt(I(theta) + 1)``. The maximum likelihood
abilities used while estimating the items are kept as ``theta_ml_``.

Item standard errors come from the inverse of each item's 2x2 expected
(Fisher) information at the final estimates, with abilities treated as
known; they ignore the uncertainty of the abilities and are therefore
optimistic. Difficulty errors use the delta method for ``b = -c / a``.

Known bias
----------
JMLE is inconsistent when the number of items per person is fixed: the
ability estimates are too spread out, so discrimination is overestimated,
and the more so the fewer items each person answers. On simulated 2PL data
the mean ratio of estimated to true discrimination was about 1.13 with 50
items per person and 1.25 with 20. For sparse or adaptive data (few items per
person) use :class:`~calibration.irt.MarginalMLE`.
"""

import time
import warnings

import numpy as np

from ._base import DEFAULT_A_BOUNDS, DEFAULT_B_BOUND, EstimatorBase
from ._likelihood import joint_cells
from ._scoring import map_abilities
from .exceptions import ConvergenceWarning, IRTInputError
from .responses import MIN_PERSONS, ResponseMatrix
from .result import (
    CalibrationResult,
    invert_2x2,
    item_diagnostics,
    person_diagnostics,
    slope_intercept_to_irt,
)

__all__ = ["JointMLE"]

#: Abilities of non-extreme persons stay within this many logits; a larger
#: value only appears for near-extreme patterns and has no practical meaning.
THETA_BOUND = 10.0


class JointMLE(EstimatorBase):
    """Joint maximum likelihood calibration of the 2PL or 1PL model.

    See the module documentation for the method, the standard errors and the
    known bias in discrimination (prefer :class:`MarginalMLE` for sparse or
    adaptive data).

    Parameters
    ----------
    model : {"2pl", "1pl"}, default "2pl"
        "1pl" estimates one discrimination common to all items.
    max_iter : int, default 200
        Maximum number of person-step/item-step iterations.
    tol : float, default 1e-4
        Convergence needs the largest change of any ability, discrimination
        or difficulty below ``tol`` ...
    ll_tol : float, default 1e-6
        ... and the relative change of the joint log-likelihood below
        ``ll_tol``.
    random_state : int, numpy Generator or None
        Accepted for a uniform estimator interface; the fit is deterministic
        (start values come from the raw scores) and does not use it.
    anchor : dict of int to (float, float), optional
        Items held fixed at ``(discrimination, difficulty)``; they set the
        scale, and abilities are then not standardised.
    a_bounds : (float, float), default (0.05, 6.0)
        Bounds of the discrimination.
    b_bound : float, default 8.0
        Bound of the absolute difficulty.

    Attributes
    ----------
    result_ : CalibrationResult
    discrimination_, difficulty_, ability_, ... : ndarray
        The fields of ``result_``, for convenience.
    theta_ml_ : ndarray, shape (n_persons,)
        Maximum likelihood abilities of the last iteration (nan for persons
        with an extreme score).
    """

    _param_names = (
        "model",
        "max_iter",
        "tol",
        "ll_tol",
        "random_state",
        "anchor",
        "a_bounds",
        "b_bound",
    )

    def __init__(
        self,
        model="2pl",
        *,
        max_iter=200,
        tol=1e-4,
        ll_tol=1e-6,
        random_state=None,
        anchor=None,
        a_bounds=DEFAULT_A_BOUNDS,
        b_bound=DEFAULT_B_BOUND,
    ):
        self.model = model
        self.max_iter = max_iter
        self.tol = tol
        self.ll_tol = ll_tol
        self.random_state = random_state
        self.anchor = anchor
        self.a_bounds = a_bounds
        self.b_bound = b_bound

    def _check_params(self, n_items):
        self._check_common()
        if self.model not in ("2pl", "1pl"):
            raise IRTInputError(f"model must be '2pl' or '1pl'; got {self.model!r}")
        anchor = self.anchor or {}
        for item, pair in anchor.items():
            if not 0 <= int(item) < n_items:
                raise IRTInputError(f"anchor item {item!r} out of range [0, {n_items})")
            a_fixed, b_fixed = pair
            if not (np.isfinite(a_fixed) and a_fixed > 0 and np.isfinite(b_fixed)):
                raise IRTInputError(
                    f"anchor for item {item!r} must be (a > 0, finite b); got {pair!r}"
                )
        if anchor and self.model == "1pl":
            raise IRTInputError(
                "anchor items are supported for model='2pl' only; the 1PL "
                "common discrimination cannot be both fixed and estimated"
            )
        return anchor

    def fit(self, X, progress=None):
        """Calibrate the items and estimate the abilities.

        Parameters
        ----------
        X : ResponseMatrix, ndarray or scipy.sparse matrix, (n_persons, n_items)
            Responses; in a dense array nan is missing, in a sparse matrix
            every stored entry (including explicit zeros) is an answer.
        progress : callable, optional
            ``progress(iteration, max_iter, info)`` after each iteration;
            ``info`` has ``log_likelihood`` and ``max_change``. An exception
            it raises stops the fit and propagates.

        Returns
        -------
        self
        """
        started = time.perf_counter()
        data = ResponseMatrix.coerce(X)
        n_items = data.n_items
        anchor = self._check_params(n_items)
        max_iter = int(self.max_iter)

        counts = data.person_counts()
        scores = data.person_scores()
        extreme = (scores == 0) | (scores == counts)
        weight = (~extreme).astype(np.float64)
        n_usable = int(weight.sum())
        if n_usable < MIN_PERSONS:
            raise IRTInputError(
                f"only {n_usable} persons have a score that is neither zero nor "
                f"perfect; at least {MIN_PERSONS} are needed for JMLE"
            )
        usable = ~extreme

        free = np.ones(n_items, dtype=bool)
        a_fixed = np.ones(n_items)
        c_fixed = np.zeros(n_items)
        for item, (a_item, b_item) in anchor.items():
            free[int(item)] = False
            a_fixed[int(item)] = a_item
            c_fixed[int(item)] = -a_item * b_item

        # Start values from the raw scores.
        weight_cell = data.cell_person(weight)
        y = data.cell_y()
        item_n = data.sum_over_persons(weight_cell * np.ones_like(y))
        item_s = data.sum_over_persons(weight_cell * y)
        p_item = np.clip((item_s + 0.5) / (item_n + 1.0), 0.01, 0.99)
        a = np.where(free, 1.0, a_fixed)
        c = np.where(free, np.log(p_item / (1.0 - p_item)), c_fixed)
        prop = np.clip((scores + 0.5) / (counts + 1.0), 0.01, 0.99)
        theta = np.log(prop / (1.0 - prop))
        theta = np.where(usable, theta, 0.0)
        if not anchor:
            theta, a, c = self._standardise(theta, a, c, usable)
        a, c, at_bound = self._apply_bounds(a, c)

        old_ll = None
        converged = False
        n_iter = 0
        max_change = np.inf
        rel_ll = np.inf
        for n_iter in range(1, max_iter + 1):
            theta_old = theta
            b_old = -c / a
            a_old = a

            theta, ll = self._person_step(data, theta, a, c, usable, weight)
            if not anchor:
                theta, a, c = self._standardise(theta, a, c, usable)
            a, c = self._item_step(data, theta, a, c, free, weight_cell)
            a, c, at_bound = self._apply_bounds(a, c)

            max_change = float(
                max(
                    np.max(np.abs(theta - theta_old)[usable]),
                    np.max(np.abs(a - a_old)),
                    np.max(np.abs(-c / a - b_old)),
                )
            )
            rel_ll = np.inf if old_ll is None else abs(ll - old_ll) / abs(old_ll)
            old_ll = ll
            if progress is not None:
                progress(
                    n_iter,
                    max_iter,
                    {
                        "log_likelihood": ll,
                        "max_change": max_change,
                        "relative_ll_change": rel_ll,
                    },
                )
            if max_change < self.tol and rel_ll < self.ll_tol:
                converged = True
                break

        if not converged:
            warnings.warn(
                ConvergenceWarning(
                    f"JMLE stopped after {n_iter} iterations with largest "
                    f"parameter change {max_change:.3g} (tol {self.tol}) and "
                    f"relative log-likelihood change {rel_ll:.3g} (ll_tol "
                    f"{self.ll_tol}); increase max_iter, or use MarginalMLE if "
                    f"persons answer few items"
                ),
                stacklevel=2,
            )

        result = self._finish(
            data, theta, a, c, free, weight_cell, usable, at_bound, started
        )
        result.converged = converged
        result.n_iter = n_iter
        result.convergence = {
            "max_change": max_change,
            "tol": float(self.tol),
            "relative_ll_change": rel_ll,
            "ll_tol": float(self.ll_tol),
            "n_extreme_persons": int(extreme.sum()),
        }
        self.theta_ml_ = np.where(usable, theta, np.nan)
        result.fit_seconds = time.perf_counter() - started
        return self._publish(result)

    @staticmethod
    def _standardise(theta, a, c, usable):
        """Rescale abilities to mean 0, sd 1 and items so that logits stay."""
        mean = theta[usable].mean()
        sd = theta[usable].std()
        if not sd > 0:
            return theta, a, c
        # a theta + c == (a sd) theta' + (c + a mean) with theta' standardised
        return (theta - mean) / sd, a * sd, c + a * mean

    @staticmethod
    def _person_step(data, theta, a, c, usable, weight):
        """One Newton step for every usable person; also return the joint LL."""
        z, p = joint_cells(data, theta, a, c)
        y = data.cell_y()
        a_cell = data.cell_item(a)
        grad = data.sum_over_items(a_cell * (y - p))
        info = data.sum_over_items(a_cell * a_cell * (p * (1.0 - p)))
        # log L = y z - log(1 + exp z), summed over answered cells.
        ll_person = data.sum_over_items(y * z - np.logaddexp(0.0, z))
        ll = float(np.dot(ll_person, weight))
        step = np.clip(grad / np.maximum(info, 1e-12), -1.0, 1.0)
        new = np.clip(theta + step, -THETA_BOUND, THETA_BOUND)
        return np.where(usable, new, theta), ll

    def _item_info(self, data, theta, a, c, weight_cell):
        """Score and expected information of every item (usable persons)."""
        _, p = joint_cells(data, theta, a, c)
        resid = (data.cell_y() - p) * weight_cell
        pq = p * (1.0 - p) * weight_cell
        th = data.cell_person(theta)
        g_a = data.sum_over_persons(resid * th)
        g_c = data.sum_over_persons(resid)
        h_cc = data.sum_over_persons(pq)
        pq_th = pq * th
        h_ac = data.sum_over_persons(pq_th)
        h_aa = data.sum_over_persons(pq_th * th)
        return g_a, g_c, h_aa, h_ac, h_cc

    def _item_step(self, data, theta, a, c, free, weight_cell):
        """One Fisher-scoring step for all free items at once."""
        g_a, g_c, h_aa, h_ac, h_cc = self._item_info(data, theta, a, c, weight_cell)
        if self.model == "2pl":
            cov_aa, cov_ac, cov_cc = invert_2x2(h_aa, h_ac, h_cc)
            cov_aa, cov_ac, cov_cc = (
                np.where(np.isfinite(v), v, 0.0) for v in (cov_aa, cov_ac, cov_cc)
            )
            da = cov_aa * g_a + cov_ac * g_c
            dc = cov_ac * g_a + cov_cc * g_c
        else:
            dc = g_c / np.maximum(h_cc, 1e-12)
            # Common slope: a scalar step from the pooled score and information.
            da = np.full_like(a, g_a.sum() / max(h_aa.sum(), 1e-12))
        da = np.clip(da, -1.0, 1.0)
        dc = np.clip(dc, -1.0, 1.0)
        a = np.where(free, a + da, a)
        c = np.where(free, c + dc, c)
        return a, c

    def _finish(self, data, theta, a, c, free, weight_cell, usable, at_bound, started):
        """Standard errors, final abilities and diagnostics."""
        _, _, h_aa, h_ac, h_cc = self._item_info(data, theta, a, c, weight_cell)
        if self.model == "2pl":
            cov_aa, cov_ac, cov_cc = invert_2x2(h_aa, h_ac, h_cc)
        else:
            cov_aa = np.full_like(a, 1.0 / max(h_aa.sum(), 1e-12))
            cov_ac = np.zeros_like(a)
            cov_cc = 1.0 / np.maximum(h_cc, 1e-12)
        b, se_a, se_b = slope_intercept_to_irt(a, c, cov_aa, cov_ac, cov_cc)
        # Anchored items are fixed, not estimated.
        se_a = np.where(free, se_a, 0.0)
        se_b = np.where(free, se_b, 0.0)

        loglik = self._joint_ll(data, theta, a, c, weight_cell)
        start = np.where(usable, theta, np.sign(data.person_scores() - 0.5) * 2.0)
        ability, se_ability = map_abilities(data, a, c, start=start)
        method = "jmle-2pl" if self.model == "2pl" else "jmle-1pl"
        return CalibrationResult(
            discrimination=a,
            difficulty=b,
            se_discrimination=se_a,
            se_difficulty=se_b,
            ability=ability,
            se_ability=se_ability,
            converged=False,
            n_iter=0,
            log_likelihood=loglik,
            fit_seconds=time.perf_counter() - started,
            method=method,
            item_diagnostics=item_diagnostics(data, ability, a, c, at_bound=at_bound),
            person_diagnostics=person_diagnostics(data),
        )

    @staticmethod
    def _joint_ll(data, theta, a, c, weight_cell):
        z, _ = joint_cells(data, theta, a, c)
        y = data.cell_y()
        return float(
            data.sum_over_items((y * z - np.logaddexp(0.0, z)) * weight_cell).sum()
        )
