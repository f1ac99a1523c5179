"""Log-likelihoods and gradients of the 2PL model (internal).

Items are parameterised internally in slope-intercept form,
``logit P(correct) = a * theta + c``, because each item's Newton problem is
then a concave logistic regression. The reported difficulty is
``b = -c / a``. These functions are private to the package but kept in one
module so the tests can check every gradient against finite differences.
"""

import numpy as np
import scipy.sparse as sp

__all__ = [
    "log_sigmoids",
    "joint_loglik",
    "joint_gradient",
    "marginal_estep",
    "marginal_loglik",
    "marginal_gradient",
]


def log_sigmoids(z):
    """Return ``log P`` and ``log (1 - P)`` for logits ``z``, without overflow."""
    return -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)


def sigmoid(z):
    """Logistic function, safe for large ``|z|``."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def joint_cells(data, theta, a, c):
    """Return the logits and probabilities of every answered cell."""
    z = data.cell_item(a) * data.cell_person(theta) + data.cell_item(c)
    return z, sigmoid(z)


def joint_loglik(data, theta, a, c, person_weight=None):
    """Joint log-likelihood of abilities and items over answered cells.

    Parameters
    ----------
    data : ResponseMatrix
    theta : ndarray, shape (n_persons,)
    a, c : ndarray, shape (n_items,)
        Slopes and intercepts.
    person_weight : ndarray, shape (n_persons,), optional
        Weight of each person's contribution (0 excludes a person).

    Returns
    -------
    float
    """
    z, _ = joint_cells(data, theta, a, c)
    log_p, log_q = log_sigmoids(z)
    y = data.cell_y()
    per_person = data.sum_over_items(y * log_p + (1.0 - y) * log_q)
    if person_weight is not None:
        per_person = per_person * person_weight
    return float(per_person.sum())


def joint_gradient(data, theta, a, c, person_weight=None):
    """Gradient of :func:`joint_loglik`.

    Returns
    -------
    g_theta : ndarray, shape (n_persons,)
    g_a, g_c : ndarray, shape (n_items,)
    """
    _, p = joint_cells(data, theta, a, c)
    resid = data.cell_y() - p
    g_theta = data.sum_over_items(resid * data.cell_item(a))
    if person_weight is not None:
        g_theta = g_theta * person_weight
        resid = resid * data.cell_person(person_weight)
    g_a = data.sum_over_persons(resid * data.cell_person(theta))
    g_c = data.sum_over_persons(resid)
    return g_theta, g_a, g_c


def marginal_estep(data, a, c, nodes, log_prior):
    """Posterior of each person over the quadrature grid.

    ``log L[p, q]`` is the sum over person p's answered items of the item's
    log-probability at node q, computed as products of the response data
    with the ``(n_items, n_quad)`` tables, so sparse data stays sparse.

    Parameters
    ----------
    data : ResponseMatrix
    a, c : ndarray, shape (n_items,)
    nodes, log_prior : ndarray, shape (n_quad,)
        Grid and normalised log prior weights.

    Returns
    -------
    posterior : ndarray, shape (n_persons, n_quad)
        Rows sum to one.
    loglik : float
        Marginal log-likelihood ``sum_p log sum_q w_q L[p, q]``.
    """
    log_p, log_q = log_sigmoids(a[:, None] * nodes[None, :] + c[:, None])
    log_post = data.loglik_dot(log_p, log_q)
    log_post += log_prior[None, :]
    top = log_post.max(axis=1)
    log_post -= top[:, None]
    np.exp(log_post, out=log_post)
    total = log_post.sum(axis=1)
    log_post /= total[:, None]
    loglik = float(np.sum(np.log(total)) + np.sum(top))
    return log_post, loglik


def marginal_loglik(data, a, c, nodes, log_prior):
    """Marginal log-likelihood of the item parameters (float)."""
    return marginal_estep(data, a, c, nodes, log_prior)[1]


def expected_counts(data, posterior):
    """Expected number correct and number answering at each node.

    Returns
    -------
    r, n : ndarray, shape (n_items, n_quad)
    """
    return data.count_tdot(posterior)


def marginal_gradient(data, a, c, nodes, log_prior):
    """Gradient of :func:`marginal_loglik` (Fisher's identity).

    Returns
    -------
    g_a, g_c : ndarray, shape (n_items,)
    """
    posterior, _ = marginal_estep(data, a, c, nodes, log_prior)
    r, n = expected_counts(data, posterior)
    p = sigmoid(a[:, None] * nodes[None, :] + c[:, None])
    resid = r - n * p
    return resid @ nodes, resid.sum(axis=1)


# Cells per chunk when sparse per-person scores are formed: each chunk holds
# two (cells, n_quad) arrays, about 130 MB at 200,000 cells and 41 nodes.
SCORE_CHUNK_CELLS = 200_000


def score_cross_products(data, posterior, a, c, nodes):
    """Cross-product of the persons' score vectors for ``(a, c)``.

    Person p's score for item j (Fisher's identity) is
    ``sum_q post[p, q] (y - P_j(q)) [theta_q, 1]`` if p answered j, else 0.
    Summing the outer products of these vectors over persons estimates the
    observed information of the marginal likelihood, with the information
    lost to the unknown abilities and the covariance between items included.

    Returns
    -------
    info : ndarray, shape (2 * n_items, 2 * n_items)
        Rows and columns ``0..n_items-1`` are the slopes ``a``, the rest the
        intercepts ``c``.
    """
    n_items = data.n_items
    table = sigmoid(a[:, None] * nodes[None, :] + c[:, None])  # (n_items, n_quad)
    ability = posterior @ nodes
    if data.is_sparse:
        rows, cols, y = data._rows, data._cols, data._y
        score_a = np.empty(len(y))
        score_c = np.empty(len(y))
        for start in range(0, len(y), SCORE_CHUNK_CELLS):
            part = slice(start, start + SCORE_CHUNK_CELLS)
            weights = posterior[rows[part]]
            at_nodes = table[cols[part]]
            expected = np.einsum("ij,ij->i", weights, at_nodes)
            at_nodes *= nodes[None, :]
            expected_theta = np.einsum("ij,ij->i", weights, at_nodes)
            score_c[part] = y[part] - expected
            score_a[part] = y[part] * ability[rows[part]] - expected_theta
        scores = sp.csr_matrix(
            (
                np.concatenate([score_a, score_c]),
                (np.concatenate([rows, rows]), np.concatenate([cols, cols + n_items])),
            ),
            shape=(data.n_persons, 2 * n_items),
        )
        return (scores.T @ scores).toarray()

    info = np.zeros((2 * n_items, 2 * n_items))
    for rows, view in data.row_blocks():
        weights = posterior[rows]
        expected = weights @ table.T
        expected_theta = weights @ (table * nodes[None, :]).T
        y = view._y
        score_c = y - expected
        score_a = y * ability[rows, None] - expected_theta
        if view._mask is not None:
            score_c *= view._mask
            score_a *= view._mask
        scores = np.hstack([score_a, score_c])
        info += scores.T @ scores
    return info
