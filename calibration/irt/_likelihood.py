"""Log-likelihoods and gradients of the 2PL model (internal).

Items are parameterised internally in slope-intercept form,
``logit P(correct) = a * theta + c``, because each item's Newton problem is
then a concave logistic regression. The reported difficulty is
``b = -c / a``. These functions are private to the package but kept in one
module so the tests can check every gradient against finite differences.
"""

import numpy as np

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
