"""Item standard errors of MarginalMLE agree with the spread of the estimates."""

import warnings

import numpy as np
import pytest

from calibration.irt import MarginalMLE, mml
from calibration.irt._likelihood import sigmoid
from calibration.irt.exceptions import IRTInputError


def spread_and_mean_se(method, replications=120, seed=11):
    """Fit many simulated samples; return mean(SE) / SD of the estimates."""
    rng = np.random.default_rng(seed)
    n_persons, n_items = 1000, 20
    a_true = rng.uniform(0.7, 2.0, n_items)
    b_true = rng.uniform(-1.5, 1.5, n_items)
    fits = []
    for _ in range(replications):
        theta = rng.normal(size=n_persons)
        p = sigmoid(a_true * (theta[:, None] - b_true))
        responses = (rng.random(p.shape) < p).astype(float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(MarginalMLE(standard_errors=method).fit(responses))
    ratio_a = np.mean(
        np.mean([f.se_discrimination_ for f in fits], axis=0)
        / np.std([f.discrimination_ for f in fits], axis=0)
    )
    ratio_b = np.mean(
        np.mean([f.se_difficulty_ for f in fits], axis=0)
        / np.std([f.difficulty_ for f in fits], axis=0)
    )
    return ratio_a, ratio_b, {f.result_.convergence["standard_errors"] for f in fits}


def test_cross_product_errors_match_the_spread_of_the_estimates():
    ratio_a, ratio_b, used = spread_and_mean_se("xpd")
    assert used == {"xpd"}
    # 120 samples estimate each spread to within about 6%.
    assert 0.94 < ratio_a < 1.10
    assert 0.94 < ratio_b < 1.10


def test_complete_data_errors_are_too_small_as_documented():
    ratio_a, ratio_b, used = spread_and_mean_se("complete")
    assert used == {"complete"}
    assert ratio_a < 0.92 and ratio_b < 0.92


def test_auto_chooses_by_the_number_of_answers(monkeypatch):
    rng = np.random.default_rng(3)
    responses = (rng.random((300, 10)) < 0.6).astype(float)
    assert MarginalMLE().fit(responses).result_.convergence["standard_errors"] == (
        "xpd"
    )
    monkeypatch.setattr(mml, "XPD_MAX_RESPONSES", 2999)
    fit = MarginalMLE().fit(responses)
    assert fit.result_.convergence["standard_errors"] == "complete"
    assert np.all(np.isfinite(fit.se_difficulty_))


def test_an_unknown_method_is_refused():
    with pytest.raises(IRTInputError, match="standard_errors must be one of"):
        MarginalMLE(standard_errors="bootstrap").fit(np.eye(6))
