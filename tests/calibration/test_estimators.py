"""Accuracy, robustness and interface of the estimators."""

import json
import warnings

import numpy as np
import pytest

from calibration.irt import (
    CalibrationResult,
    ConvergenceWarning,
    IRTInputError,
    JointMLE,
    MarginalMLE,
    ResponseMatrix,
)
from calibration.irt.datasets import load_lsat7

from .conftest import rmse, simulate_2pl

# R mirt 1.40, 2PL by MML (61 nodes on [-6, 6]).
MIRT_LSAT7_A = [0.988, 1.081, 1.707, 0.765, 0.736]
MIRT_LSAT7_B = [-1.879, -0.748, -1.057, -0.635, -2.521]
MIRT_LSAT7_LL = -2658.805


def test_lsat7_loader():
    x = load_lsat7()
    assert x.shape == (1000, 5)
    assert set(np.unique(x)) == {0, 1}
    # Pattern 11111 is the most frequent (308 examinees).
    assert np.sum(x.sum(axis=1) == 5) == 308


def test_lsat7_matches_mirt_with_default_grid():
    # The default 41 nodes on [-5, 5] match mirt's 61 on [-6, 6] here.
    est = MarginalMLE().fit(load_lsat7())
    result = est.result_
    assert result.converged
    np.testing.assert_allclose(result.discrimination, MIRT_LSAT7_A, atol=0.005)
    np.testing.assert_allclose(result.difficulty, MIRT_LSAT7_B, atol=0.005)
    assert result.log_likelihood == pytest.approx(MIRT_LSAT7_LL, abs=0.005)


@pytest.fixture(scope="module")
def dense_5000x100():
    return simulate_2pl(5000, 100, seed=0)


def test_mml_dense_recovers_items(dense_5000x100):
    x, a, b, theta = dense_5000x100
    result = MarginalMLE().fit(x).result_
    assert result.converged
    assert rmse(result.discrimination, a) <= 0.04
    assert rmse(result.difficulty, b) <= 0.04
    assert np.all(np.isfinite(result.ability))
    assert np.corrcoef(result.ability, theta)[0, 1] > 0.95


def test_jmle_dense_recovers_items(dense_5000x100):
    x, a, b, theta = dense_5000x100
    result = JointMLE().fit(x).result_
    assert result.converged
    assert rmse(result.discrimination, a) <= 0.07
    assert rmse(result.difficulty, b) <= 0.05
    assert np.all(np.isfinite(result.ability))


def test_mml_sparse_recovers_items():
    # 50,000 persons x 200 items, 20 random items each: 5,000 responses per
    # item. Measured over seeds 0-3, the RMSE of the maximum likelihood
    # estimates themselves (tol 1e-6 gives the same figures) is 0.046-0.055
    # for a and 0.049-0.079 for b: the spread is sampling error (errors over
    # reported standard errors have an RMS of 1.0-1.3), so a 0.05 bound
    # cannot hold for every sample. The bounds below are the measured
    # worst case with a small margin, and the z-check ties the errors to
    # the reported standard errors.
    data, a, b, theta = simulate_2pl(50_000, 200, per_person=20, seed=0)
    result = MarginalMLE().fit(data).result_
    assert result.converged
    assert rmse(result.discrimination, a) <= 0.06
    assert rmse(result.difficulty, b) <= 0.085
    z_b = (result.difficulty - b) / result.se_difficulty
    assert np.sqrt(np.mean(z_b**2)) < 1.5
    assert np.all(np.isfinite(result.ability))


def extreme_short_test(seed=3):
    """10 items; about 3% zero and 3% perfect scorers."""
    rng = np.random.default_rng(seed)
    n_persons, n_items = 2000, 10
    a = rng.lognormal(0.0, 0.25, n_items)
    b = rng.normal(0.0, 0.6, n_items)
    theta = rng.normal(0.0, 1.2, n_persons)
    p = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
    x = (rng.random((n_persons, n_items)) < p).astype(float)
    return x, a


def test_extreme_share_of_short_test():
    x, _ = extreme_short_test()
    score = x.sum(axis=1)
    assert 0.02 < np.mean(score == 0) < 0.05
    assert 0.02 < np.mean(score == 10) < 0.05


def all_finite(result):
    arrays = [
        result.discrimination,
        result.difficulty,
        result.se_discrimination,
        result.se_difficulty,
        result.ability,
        result.se_ability,
    ]
    arrays += [v for k, v in result.item_diagnostics.items() if k != "flag"]
    return all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in arrays)


@pytest.mark.parametrize("estimator", [JointMLE(), MarginalMLE()], ids=repr)
def test_extreme_scores_get_finite_ordered_abilities(estimator):
    x, _ = extreme_short_test()
    result = estimator.fit(x).result_
    assert all_finite(result)
    assert np.isfinite(result.log_likelihood)
    score = x.sum(axis=1)
    # Under the 2PL the sufficient statistic is the weighted score.
    weighted = x @ result.discrimination
    order = np.argsort(weighted, kind="stable")
    assert np.all(np.diff(result.ability[order]) >= -1e-9)
    assert result.ability[score == 0].max() < result.ability[score > 0].min()
    assert result.ability[score == 10].min() > result.ability[score < 10].max()
    json.dumps(result.to_dict())


def test_1pl_abilities_non_decreasing_in_raw_score():
    x, _ = extreme_short_test()
    result = JointMLE(model="1pl").fit(x).result_
    assert all_finite(result)
    assert np.ptp(result.discrimination) == 0
    score = x.sum(axis=1)
    order = np.argsort(score, kind="stable")
    assert np.all(np.diff(result.ability[order]) >= -1e-9)
    # Equal raw scores give equal abilities in the 1PL.
    for s in range(11):
        assert np.ptp(result.ability[score == s]) < 1e-6


def test_to_dict_is_plain_json_without_nan():
    x, _ = extreme_short_test()
    result = MarginalMLE().fit(x).result_
    result.se_difficulty[0] = np.nan
    out = result.to_dict()
    text = json.dumps(out, allow_nan=False)
    assert out["items"]["se_difficulty"][0] is None
    assert "NaN" not in text
    assert set(out["items"]) >= {"discrimination", "flag", "infit", "outfit"}
    assert isinstance(result, CalibrationResult)


def test_progress_is_called_every_iteration():
    x, _ = extreme_short_test()
    calls = []
    est = MarginalMLE().fit(x, progress=lambda *args: calls.append(args))
    assert len(calls) == est.n_iter_
    iteration, max_iter, info = calls[-1]
    assert (iteration, max_iter) == (est.n_iter_, 500)
    assert {"log_likelihood", "max_change"} <= set(info)


class Cancelled(Exception):
    pass


@pytest.mark.parametrize("estimator", [JointMLE(), MarginalMLE()], ids=repr)
def test_exception_from_progress_stops_fit(estimator):
    x, _ = extreme_short_test()
    seen = []

    def progress(iteration, max_iter, info):
        seen.append(iteration)
        if iteration == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        estimator.fit(x, progress=progress)
    assert seen == [1, 2]
    assert not hasattr(estimator, "result_")


def test_convergence_warning_names_the_remedy():
    x, _ = extreme_short_test()
    with pytest.warns(ConvergenceWarning, match="increase max_iter"):
        result = MarginalMLE(max_iter=2).fit(x).result_
    assert not result.converged
    assert result.n_iter == 2


def test_jmle_anchor_fixes_items_and_scale(dense_5000x100):
    x, a, b, _ = dense_5000x100
    anchor = {i: (a[i], b[i]) for i in range(10)}
    result = JointMLE(anchor=anchor).fit(x).result_
    np.testing.assert_allclose(result.discrimination[:10], a[:10])
    np.testing.assert_allclose(result.difficulty[:10], b[:10])
    assert np.all(result.se_discrimination[:10] == 0)
    assert rmse(result.difficulty, b) <= 0.08


def test_bound_reached_is_flagged():
    x, _ = extreme_short_test()
    x = x.copy()
    x[:, 0] = 1.0  # everybody right: difficulty runs to its bound
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = JointMLE().fit(x).result_
    assert "bound_reached" in result.item_diagnostics["flag"][0]
    assert "no_variance" in result.item_diagnostics["flag"][0]
    assert result.difficulty[0] < -6.0


def test_bad_parameters_are_named():
    x, _ = extreme_short_test()
    with pytest.raises(IRTInputError, match="model must be"):
        JointMLE(model="3pl").fit(x)
    with pytest.raises(IRTInputError, match="anchor item 99"):
        JointMLE(anchor={99: (1.0, 0.0)}).fit(x)
    with pytest.raises(IRTInputError, match="theta_range"):
        MarginalMLE(theta_range=(3, -3)).fit(x)


def test_jmle_needs_non_extreme_persons():
    x = np.zeros((20, 4))
    x[10:] = 1.0
    with pytest.raises(IRTInputError, match="neither zero nor perfect"):
        JointMLE().fit(x)


def non_decreasing(history, rel=1e-10):
    history = np.asarray(history)
    return np.all(np.diff(history) >= -rel * np.abs(history[1:]))


def test_jmle_2pl_on_lsat7_is_monotone_and_reports_no_finite_maximum():
    # With five items the abilities of the 30 non-extreme response patterns
    # can be ordered so that one item's answers are separated perfectly: the
    # joint likelihood then grows without limit as that discrimination grows
    # (an unconstrained optimiser reached a = 1e8 on item 3), so there is no
    # JMLE to converge to. The fit must climb monotonically, stop at the
    # bound and say so, instead of cycling.
    with pytest.warns(ConvergenceWarning, match="no finite maximum"):
        result = JointMLE().fit(load_lsat7()).result_
    assert not result.converged
    assert result.convergence["no_finite_maximum"]
    assert non_decreasing(result.convergence["log_likelihood_history"])
    assert "bound_reached" in result.item_diagnostics["flag"][2]
    assert all_finite(result)


def test_jmle_1pl_on_lsat7_converges_monotonically():
    result = JointMLE(model="1pl").fit(load_lsat7()).result_
    assert result.converged
    assert non_decreasing(result.convergence["log_likelihood_history"])
    assert 0.3 < result.discrimination[0] < 3.0
    assert np.all(np.abs(result.difficulty) < 4.0)
    # Same ordering of difficulty as mirt's MML.
    np.testing.assert_array_equal(
        np.argsort(result.difficulty), np.argsort(MIRT_LSAT7_B)
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_jmle_2pl_short_test_converges_monotonically(seed):
    # 2,000 persons x 15 items: the shortest test of a 10/15/20/30/50 scan on
    # which the 2PL joint likelihood had a finite maximum for every seed.
    x, a, b, _ = simulate_2pl(2000, 15, seed=seed)
    infos = []
    est = JointMLE().fit(x, progress=lambda *args: infos.append(args[2]))
    result = est.result_
    assert result.converged
    history = result.convergence["log_likelihood_history"]
    assert non_decreasing(history)
    assert history[1:] == [info["log_likelihood"] for info in infos]
    assert np.all((result.discrimination > 0.3) & (result.discrimination < 3.0))
    assert np.all(np.abs(result.difficulty) < 4.0)
    # The known inflation of JMLE, but the same ordering as the truth.
    assert np.corrcoef(result.discrimination, a)[0, 1] > 0.8
    assert rmse(result.difficulty, b) < 0.2


@pytest.mark.parametrize("seed", [0, 1])
def test_jmle_2pl_ten_items_runs_to_bound_without_cycling(seed):
    x, _, _, _ = simulate_2pl(2000, 10, seed=seed)
    with pytest.warns(ConvergenceWarning, match="no finite maximum"):
        result = JointMLE().fit(x).result_
    assert non_decreasing(result.convergence["log_likelihood_history"])


def test_mml_squarem_never_lowers_the_marginal_likelihood():
    x, _ = extreme_short_test()
    lls = []
    MarginalMLE().fit(x, progress=lambda i, m, info: lls.append(info["log_likelihood"]))
    assert non_decreasing(lls)


def test_mml_sparse_storage_matches_dense():
    x, _, _, _ = simulate_2pl(3000, 30, seed=2)
    rng = np.random.default_rng(2)
    x[rng.random(x.shape) < 0.4] = np.nan
    rows, cols = np.nonzero(~np.isnan(x))
    sparse = ResponseMatrix.from_triplets(
        rows, cols, x[rows, cols], n_persons=3000, n_items=30
    )
    dense = MarginalMLE().fit(x).result_
    split = MarginalMLE().fit(sparse).result_
    np.testing.assert_allclose(split.discrimination, dense.discrimination, atol=1e-8)
    np.testing.assert_allclose(split.difficulty, dense.difficulty, atol=1e-8)
    assert split.log_likelihood == pytest.approx(dense.log_likelihood, abs=1e-6)
