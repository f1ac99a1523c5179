"""Joint maximum likelihood (JMLE) for the 1PL and 2PL models.

Method
------
Abilities and item parameters are estimated together by alternating two
fully vectorised Newton steps per iteration, each a monotone ascent of the
joint log-likelihood (every accepted step leaves it at least as high):

1. a person step: one Newton step for every non-extreme person at once,
   ``theta += sum_i a_i (y - P) / sum_i a_i^2 P Q`` (at most one logit),
   halved person by person while it lowers that person's term;
2. an item step: one Newton step for all free items at once on the 2x2
   system in slope-intercept form ``logit P = a theta + c`` (1PL: a step for
   each intercept, then one for the common slope), shrunk as a whole to at
   most one unit, projected on the bounds and halved item by item while it
   lowers that item's term.

Given the items the joint log-likelihood is a sum of one term per person,
and given the abilities a sum of one term per item, so halving term by term
is enough for the total never to decrease. The history is kept in
``result.convergence["log_likelihood_history"]``.

Without anchors the scale is identified by standardising the abilities of
the non-extreme persons to mean 0 and standard deviation 1 after each person
step; the item parameters are transformed with them (``a * sd`` and
``c + a * mean``), so no logit and hence no likelihood changes. Nothing is
clipped after the rescaling (clipping would lower the likelihood): if an
item's rescaled discrimination would leave ``a_bounds`` the scale factor is
limited instead. With anchor items the anchors' parameters are held fixed
and define the scale.

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

Known bias and short tests
--------------------------
JMLE is inconsistent when the number of items per person is fixed: the
ability estimates are too spread out, so discrimination is overestimated,
and the more so the fewer items each person answers. On simulated 2PL data
the mean ratio of estimated to true discrimination was about 1.13 with 50
items per person and 1.25 with 20 (1.06-1.08 at 50, 1.15 at 30, 1.18-1.21
at 20, 1.20-1.25 at 15 items measured on 1,000-2,000 persons here).

With fewer items the 2PL joint likelihood often has no finite maximum at
all: every response pattern gets its own ability, and the patterns can be
ordered so that one item's answers are separated perfectly, after which the
likelihood keeps rising as that discrimination grows. This happened for
every seed tried on simulated 2,000 x 10, 2,000 x 8 and 2,000 x 5 data, and
on 1,000,000 x 1,000 with 20 random items per person (one item reached the
bound). The 5-item LSAT-7 demo bank (30 non-extreme patterns) is an extreme
case: an unbounded monotone ascent drove item 3's discrimination past 1e8
within 20 iterations, and a lognormal(0, 0.5) prior on discrimination, with
or without a N(0, 1) prior on ability, still left it above 200. The fit
then climbs until a free discrimination reaches the upper bound, stops when
the likelihood levels off or at ``max_iter`` (LSAT-7: 200 iterations,
0.6 s), reports ``converged=False`` with
``convergence["no_finite_maximum"] = True`` and warns. The 1PL, whose single
common slope cannot single out one item, converged on LSAT-7 in five
iterations. For short, sparse or adaptive tests use
:class:`~calibration.irt.MarginalMLE`.
"""

import time
import warnings

import numpy as np

from ._base import DEFAULT_A_BOUNDS, DEFAULT_B_BOUND, EstimatorBase
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

#: Step halvings tried before a person or item keeps its old value; 2**-20
#: of a step is below any tolerance in use.
MAX_HALVINGS = 20

#: Persons per block of dense cells (4,096 x 200 float64 cells are 6.5 MB).
BLOCK_ROWS = 4096


def _slack(value):
    """Rounding allowance when comparing log-likelihood terms."""
    return 1e-12 * (1.0 + np.abs(value))


class _CellLikelihood:
    """Joint log-likelihood terms at one point, kept for the next step.

    ``evaluate`` computes the logits, probabilities and log-likelihood of
    every answered cell once; the person terms, the item terms (usable
    persons only) and the total are read from them, and the probabilities
    are reused for the next Newton step.
    """

    def __init__(self, data, weight_cell):
        self.data = data
        self.weight_cell = weight_cell

    def _blocks(self, theta):
        """Yield ``(rows, block, theta, weight)`` for each block of persons.

        Dense data is cut into row blocks so that the dozen passes over the
        cells work in cache: on 100,000 x 200 this made an evaluation about
        twice as fast. Sparse data is one block (its cells are already
        compact and bincount needs no temporaries per person).
        """
        data = self.data
        if data.is_sparse:
            yield slice(None), data, theta, self.weight_cell
            return
        for rows, block in data.row_blocks(BLOCK_ROWS):
            yield rows, block, theta[rows], self.weight_cell[rows]

    def evaluate(self, theta, a, c):
        data = self.data
        self.a_cell = data.cell_item(a)
        if data.is_sparse:
            self.p = None
        else:
            self.p = np.empty(data.cell_y().shape)
        self.per_person = np.empty(data.n_persons)
        self.per_item = np.zeros(data.n_items)
        for rows, block, theta_b, weight_b in self._blocks(theta):
            p, per_person, per_item = _cell_terms(block, theta_b, a, c, weight_b)
            if self.p is None:
                self.p = p
            else:
                self.p[rows] = p
            self.per_person[rows] = per_person
            self.per_item += per_item
        self.total_value = float(self.per_item.sum())
        return self

    def total(self, theta, a, c):
        return self.evaluate(theta, a, c).total_value

    def item_info(self, theta):
        """Score and information of every item at the last point evaluated."""
        sums = np.zeros((5, self.data.n_items))
        for rows, block, theta_b, weight_b in self._blocks(theta):
            p = self.p if self.data.is_sparse else self.p[rows]
            resid = (block.cell_y() - p) * weight_b
            pq = p * (1.0 - p)
            pq *= weight_b
            th = block.cell_person(theta_b)
            sums[0] += block.sum_over_persons(resid)
            resid *= th
            sums[1] += block.sum_over_persons(resid)
            sums[2] += block.sum_over_persons(pq)
            pq *= th
            sums[3] += block.sum_over_persons(pq)
            pq *= th
            sums[4] += block.sum_over_persons(pq)
        g_c, g_a, h_cc, h_ac, h_aa = sums
        return g_a, g_c, h_aa, h_ac, h_cc


def _cell_terms(data, theta, a, c, weight):
    """Probabilities of the cells, person terms and weighted item terms."""
    y = data.cell_y()
    z = data.cell_item(a) * data.cell_person(theta)
    z += data.cell_item(c)
    # Both P and log(1 + exp z) come from e = exp(-|z|), which cannot
    # overflow; this is about three times faster than np.logaddexp and a
    # separate logistic function on a million cells.
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    p = np.where(z >= 0.0, 1.0, e)
    p /= 1.0 + e
    # log L = y z - log(1 + exp z) = y z - max(z, 0) - log(1 + e).
    np.log1p(e, out=e)
    ll = y * z
    ll -= np.maximum(z, 0.0, out=z)
    ll -= e
    per_person = data.sum_over_items(ll)
    ll *= weight
    return p, per_person, data.sum_over_persons(ll)


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

        data_ll = _CellLikelihood(data, weight_cell)
        ll = data_ll.total(theta, a, c)
        history = [ll]
        a_high = self.a_bounds[1] * (1 - 1e-6)
        converged = False
        n_iter = 0
        max_change = np.inf
        rel_ll = np.inf
        for n_iter in range(1, max_iter + 1):
            theta_old = theta
            b_old = -c / a
            a_old = a
            ll_old = ll

            theta = self._person_step(data, data_ll, theta, a, c, usable)
            if not anchor:
                theta, a, c = self._standardise(theta, a, c, usable, free)
            a, c, ll = self._item_step(data, data_ll, theta, a, c, free)
            history.append(ll)

            max_change = float(
                max(
                    np.max(np.abs(theta - theta_old)[usable]),
                    np.max(np.abs(a - a_old)),
                    np.max(np.abs(-c / a - b_old)),
                )
            )
            rel_ll = abs(ll - ll_old) / abs(ll_old)
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
            # With a free item held at the upper discrimination bound the
            # abilities keep spreading towards a maximum that does not exist
            # (measured on 1,000,000 x 1,000 with 20 items each: a creep of
            # 0.002 per iteration, never below tol); stop once the
            # likelihood has levelled off.
            if rel_ll < self.ll_tol and np.any(free & (a >= a_high)):
                break

        # TODO: rescaling can carry a difficulty beyond ``b_bound`` during the
        # fit (only items already on a bound, in fits without a finite
        # maximum); clipping it here lowers the reported log-likelihood below
        # the last value of the history (LSAT-7: -1494.6 against -1471).
        a, c, at_bound = self._apply_bounds(a, c)
        # Free items pinned at the upper discrimination bound mean that the
        # joint likelihood grows without limit (responses to the item can be
        # separated by the abilities): there is no finite JMLE to converge to.
        runaway = np.flatnonzero(free & (a >= a_high))
        if runaway.size:
            converged = False
            warnings.warn(
                ConvergenceWarning(
                    f"the joint likelihood has no finite maximum for these data: "
                    f"the discrimination of the item(s) in column(s) "
                    f"{runaway.tolist()!r} (counting from 0) ran to "
                    f"the bound {self.a_bounds[1]}; JMLE needs more items per "
                    f"person, use MarginalMLE"
                ),
                stacklevel=2,
            )
        elif not converged:
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
            "log_likelihood_history": history,
            "no_finite_maximum": bool(runaway.size),
        }
        self.theta_ml_ = np.where(usable, theta, np.nan)
        result.fit_seconds = time.perf_counter() - started
        return self._publish(result)

    def _standardise(self, theta, a, c, usable, free=None):
        """Rescale abilities to mean 0, sd 1 and items so that logits stay.

        The transformation changes no logit, so the joint likelihood is
        unchanged. When the rescaled discrimination of a free item would
        leave ``a_bounds`` the scale factor is limited instead, so that no
        item has to be clipped (clipping would lower the likelihood).
        """
        mean = theta[usable].mean()
        sd = theta[usable].std()
        if not sd > 0:
            return theta, a, c
        if free is not None and free.any():
            low, high = self.a_bounds
            sd = min(sd, high / a[free].max())
            sd = max(sd, low / a[free].min())
        # a theta + c == (a sd) theta' + (c + a mean) with theta' standardised
        return (theta - mean) / sd, a * sd, c + a * mean

    @staticmethod
    def _person_step(data, data_ll, theta, a, c, usable):
        """One Newton step for every usable person, halved where it loses.

        Each person's term of the joint log-likelihood depends on their own
        ability only, so halving person by person keeps every term, and
        hence the total, from decreasing.
        """
        p = data_ll.p
        y = data.cell_y()
        a_cell = data_ll.a_cell
        grad = data.sum_over_items(a_cell * (y - p))
        info = data.sum_over_items(a_cell * a_cell * (p * (1.0 - p)))
        step = np.clip(grad / np.maximum(info, 1e-12), -1.0, 1.0)
        step = np.where(usable, step, 0.0)
        old = data_ll.per_person
        t = np.ones_like(theta)
        for _ in range(MAX_HALVINGS):
            trial = np.clip(theta + t * step, -THETA_BOUND, THETA_BOUND)
            new = data_ll.evaluate(trial, a, c).per_person
            worse = new < old - _slack(old)
            if not worse.any():
                return trial
            t = np.where(worse, 0.5 * t, t)
        # Persons whose step still loses keep their ability.
        trial = np.where(worse, theta, trial)
        data_ll.evaluate(trial, a, c)
        return trial

    def _item_step(self, data, data_ll, theta, a, c, free):
        """One Newton step for all free items, halved item by item.

        Given the abilities each item's term of the joint log-likelihood is
        a concave logistic regression in ``(a, c)``; the step is the Newton
        step, shrunk as a whole (never per component, which could turn it
        into a descent direction) to at most one unit and projected on the
        bounds, and halved for the items whose term it lowers. Returns the
        new slopes, intercepts and joint log-likelihood.
        """
        # The cached cell terms are still those of (theta, a, c): the person
        # step evaluated them and standardising changes no logit.
        g_a, g_c, h_aa, h_ac, h_cc = data_ll.item_info(theta)
        if self.model == "2pl":
            # A small ridge keeps near-singular blocks (items answered by
            # persons of almost equal ability) from giving huge steps.
            ridge = 1e-9 * (h_aa + h_cc) + 1e-12
            cov_aa, cov_ac, cov_cc = invert_2x2(h_aa + ridge, h_ac, h_cc + ridge)
            cov_aa, cov_ac, cov_cc = (
                np.where(np.isfinite(v), v, 0.0) for v in (cov_aa, cov_ac, cov_cc)
            )
            da = cov_aa * g_a + cov_ac * g_c
            dc = cov_ac * g_a + cov_cc * g_c
            da, dc = self._active_bounds(a, c, da, dc, g_a, g_c, h_aa, h_ac, h_cc)
            a, c = self._item_line_search(data_ll, theta, a, c, da, dc, free)
        else:
            # Intercepts first, then the common slope: two monotone sub-steps.
            dc = g_c / np.maximum(h_cc, 1e-12)
            a, c = self._item_line_search(
                data_ll, theta, a, c, np.zeros_like(a), dc, free
            )
            g_a, _, h_aa, _, _ = data_ll.item_info(theta)
            da = np.full_like(a, g_a.sum() / max(h_aa.sum(), 1e-12))
            a, c = self._item_line_search(
                data_ll, theta, a, c, da, np.zeros_like(c), free, common=True
            )
        return a, c, data_ll.total_value

    def _active_bounds(self, a, c, da, dc, g_a, g_c, h_aa, h_ac, h_cc):
        """Newton steps along the bound for items that the full step pushes out.

        Projecting the full step of such an item on the bounds can give a
        direction in which its likelihood falls however short the step
        (measured: an item at the upper discrimination bound then used up
        every halving, each a pass over all answered cells, in every
        iteration). Along an active bound the problem is one-dimensional:
        in ``c`` with ``a`` fixed, or in ``a`` with the difficulty fixed.
        """
        low, high = self.a_bounds
        on_a = ((a >= high * (1 - 1e-9)) & (da > 0)) | (
            (a <= low * (1 + 1e-9)) & (da < 0)
        )
        da = np.where(on_a, 0.0, da)
        dc = np.where(on_a, g_c / np.maximum(h_cc, 1e-12), dc)

        b = -c / a
        with np.errstate(divide="ignore", invalid="ignore"):
            b_full = -(c + dc) / (a + da)
        limit = self.b_bound * (1 - 1e-9)
        on_b = ~on_a & (np.abs(b) >= limit) & (b * b_full > 0)
        on_b &= np.abs(b_full) > np.abs(b)
        b0 = np.sign(b) * self.b_bound
        # logit = a (theta - b0): score and information of ``a`` alone.
        g_line = g_a - b0 * g_c
        h_line = h_aa - 2.0 * b0 * h_ac + b0 * b0 * h_cc
        da_line = g_line / np.maximum(h_line, 1e-12)
        da = np.where(on_b, da_line, da)
        dc = np.where(on_b, -b0 * da_line, dc)
        return da, dc

    def _item_line_search(self, data_ll, theta, a, c, da, dc, free, common=False):
        """Halve each item's step until its likelihood term does not drop."""
        low, high = self.a_bounds
        size = np.maximum(np.abs(da), np.abs(dc))
        shrink = np.where(size > 1.0, 1.0 / np.maximum(size, 1e-300), 1.0)
        da = np.where(free, da * shrink, 0.0)
        dc = np.where(free, dc * shrink, 0.0)
        if common:
            da = np.where(free, da.max() if da.size else 0.0, 0.0)
            dc = np.zeros_like(dc)
        old = data_ll.per_item
        old_total = data_ll.total_value
        b = -c / a
        t = np.ones_like(a)
        for _ in range(MAX_HALVINGS):
            a_try = np.clip(a + t * da, low, high)
            c_try = c + t * dc
            # Project the difficulty, unless the item already lies outside.
            b_try = -c_try / a_try
            inside = np.abs(b) <= self.b_bound
            b_try = np.where(inside, np.clip(b_try, -self.b_bound, self.b_bound), b_try)
            c_try = np.where(free, -a_try * b_try, c)
            a_try = np.where(free, a_try, a)
            new = data_ll.evaluate(theta, a_try, c_try).per_item
            if common:
                total = data_ll.total_value
                if total >= old_total - _slack(old_total):
                    return a_try, c_try
                t = 0.5 * t
                continue
            worse = new < old - _slack(old)
            if not worse.any():
                return a_try, c_try
            t = np.where(worse, 0.5 * t, t)
        if common:
            data_ll.evaluate(theta, a, c)
            return a, c
        a_try = np.where(worse, a, a_try)
        c_try = np.where(worse, c, c_try)
        data_ll.evaluate(theta, a_try, c_try)
        return a_try, c_try

    def _finish(self, data, theta, a, c, free, weight_cell, usable, at_bound, started):
        """Standard errors, final abilities and diagnostics."""
        cells = _CellLikelihood(data, weight_cell).evaluate(theta, a, c)
        _, _, h_aa, h_ac, h_cc = cells.item_info(theta)
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

        loglik = cells.total_value
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
