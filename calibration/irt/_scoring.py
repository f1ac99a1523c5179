"""Ability estimation given fixed item parameters (internal)."""

import numpy as np

from ._likelihood import joint_cells

__all__ = ["warm_wle"]


def _wle_score(data, theta, a, c):
    """Warm's corrected score and the test information at ``theta``."""
    _, p = joint_cells(data, theta, a, c)
    pq = p * (1.0 - p)
    a_cell = data.cell_item(a)
    a2pq = a_cell * a_cell * pq
    info = data.sum_over_items(a2pq)
    # dI/dtheta = sum a^3 P Q (1 - 2P)
    d_info = data.sum_over_items(a2pq * a_cell * (1.0 - 2.0 * p))
    score = data.sum_over_items(a_cell * (data.cell_y() - p))
    info = np.maximum(info, 1e-12)
    return score + d_info / (2.0 * info), info


def warm_wle(data, a, c, *, start=None, bound=10.0, tol=1e-6, max_iter=60):
    """Warm's weighted likelihood estimates of ability, all persons at once.

    Solves ``sum_i a_i (y_i - P_i) + J / (2 I) = 0`` where ``I`` is the test
    information and ``J`` its derivative. Unlike maximum likelihood the
    solution is finite for zero and perfect scores, and it increases with
    the (weighted) score. The root is found by Newton steps with the
    information as slope, safeguarded by a bisection bracket that starts at
    ``[-bound, bound]``; a person whose root lies outside gets the bound.

    Parameters
    ----------
    data : ResponseMatrix
    a, c : ndarray, shape (n_items,)
        Slopes and intercepts.
    start : ndarray, shape (n_persons,), optional

    Returns
    -------
    theta, se : ndarray, shape (n_persons,)
        Estimates and ``1 / sqrt(I(theta))``.
    """
    n = data.n_persons
    lo = np.full(n, -bound)
    hi = np.full(n, bound)
    theta = np.zeros(n) if start is None else np.clip(start, -bound, bound)
    for _ in range(max_iter):
        f, info = _wle_score(data, theta, a, c)
        # The corrected score decreases in theta, so its sign moves a bracket.
        lo = np.where(f > 0, theta, lo)
        hi = np.where(f <= 0, theta, hi)
        step = np.clip(f / info, -2.0, 2.0)
        new = theta + step
        outside = (new <= lo) | (new >= hi)
        new = np.where(outside, 0.5 * (lo + hi), new)
        change = np.abs(new - theta)
        theta = new
        if change.max() < tol:
            break
    _, info = _wle_score(data, theta, a, c)
    return theta, 1.0 / np.sqrt(info)
