"""Analytic gradients against central finite differences."""

import numpy as np
import pytest

from calibration.irt import ResponseMatrix
from calibration.irt._likelihood import (
    joint_gradient,
    joint_loglik,
    marginal_gradient,
    marginal_loglik,
)
from calibration.irt.mml import quadrature

from .conftest import simulate_2pl

STEP = 1e-5


def numeric_gradient(func, x):
    grad = np.empty_like(x)
    for k in range(len(x)):
        up = x.copy()
        down = x.copy()
        up[k] += STEP
        down[k] -= STEP
        grad[k] = (func(up) - func(down)) / (2 * STEP)
    return grad


@pytest.fixture(params=["dense", "dense-missing", "sparse"])
def data(request):
    x, _, _, _ = simulate_2pl(60, 6, seed=4)
    if request.param == "dense":
        return ResponseMatrix.from_dense(x)
    rng = np.random.default_rng(5)
    x[rng.random(x.shape) < 0.3] = np.nan
    if request.param == "dense-missing":
        return ResponseMatrix.from_dense(x)
    rows, cols = np.nonzero(~np.isnan(x))
    return ResponseMatrix.from_triplets(
        rows, cols, x[rows, cols], n_persons=60, n_items=6
    )


def params(n_persons, n_items, seed=6):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_persons)
    a = rng.uniform(0.5, 2.0, n_items)
    c = rng.normal(size=n_items)
    weight = (rng.random(n_persons) < 0.8).astype(float)
    return theta, a, c, weight


def test_joint_gradient(data):
    theta, a, c, weight = params(data.n_persons, data.n_items)
    g_theta, g_a, g_c = joint_gradient(data, theta, a, c, weight)
    np.testing.assert_allclose(
        g_theta,
        numeric_gradient(lambda t: joint_loglik(data, t, a, c, weight), theta),
        rtol=1e-6,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        g_a,
        numeric_gradient(lambda v: joint_loglik(data, theta, v, c, weight), a),
        rtol=1e-6,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        g_c,
        numeric_gradient(lambda v: joint_loglik(data, theta, a, v, weight), c),
        rtol=1e-6,
        atol=1e-6,
    )


def test_marginal_gradient(data):
    _, a, c, _ = params(data.n_persons, data.n_items)
    nodes, log_prior = quadrature(41, (-5, 5))
    g_a, g_c = marginal_gradient(data, a, c, nodes, log_prior)
    np.testing.assert_allclose(
        g_a,
        numeric_gradient(lambda v: marginal_loglik(data, v, c, nodes, log_prior), a),
        rtol=1e-6,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        g_c,
        numeric_gradient(lambda v: marginal_loglik(data, a, v, nodes, log_prior), c),
        rtol=1e-6,
        atol=1e-6,
    )
