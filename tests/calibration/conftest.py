"""Seeded 2PL data for the calibration tests."""

import numpy as np

from calibration.irt import ResponseMatrix


def simulate_2pl(n_persons, n_items, *, per_person=None, seed=0):
    """Simulate 2PL responses with a ~ lognormal(0, 0.25), b, theta ~ N(0, 1).

    Returns the data (a dense array, or a sparse ResponseMatrix when
    ``per_person`` items are drawn at random for each person) and the true
    ``a``, ``b`` (n_items,) and ``theta`` (n_persons,).
    """
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.25, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    theta = rng.normal(0.0, 1.0, n_persons)
    if per_person is None:
        p = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
        return (rng.random((n_persons, n_items)) < p).astype(float), a, b, theta
    rows = np.repeat(np.arange(n_persons), per_person)
    cols = np.argsort(rng.random((n_persons, n_items)), axis=1)[:, :per_person]
    cols = cols.ravel()
    p = 1.0 / (1.0 + np.exp(-a[cols] * (theta[rows] - b[cols])))
    y = (rng.random(len(rows)) < p).astype(float)
    data = ResponseMatrix.from_triplets(
        rows, cols, y, n_persons=n_persons, n_items=n_items
    )
    return data, a, b, theta


def rmse(estimate, truth):
    return float(np.sqrt(np.mean((estimate - truth) ** 2)))
