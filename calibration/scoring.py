"""Ability estimates from known 2PL item parameters (no Django)."""

import numpy as np

# Expected a posteriori scoring on a fixed grid with a standard normal prior.
GRID = np.linspace(-5.0, 5.0, 41)
LOG_PRIOR = -0.5 * GRID**2


def eap_trajectory(a, b, correct):
    """Return the EAP ability and posterior SD after each response in order.

    Parameters
    ----------
    a, b : ndarray of shape (n_responses,)
        Discrimination and difficulty of the items in the order answered.
    correct : ndarray of shape (n_responses,)
        1 for a correct answer, 0 otherwise.

    Returns
    -------
    theta, se : ndarray of shape (n_responses,)
    """
    a = np.asarray(a, dtype=float)[:, None]
    b = np.asarray(b, dtype=float)[:, None]
    x = np.asarray(correct, dtype=float)[:, None]
    z = a * (GRID[None, :] - b)
    # log P(correct) = -log(1 + e^-z), log P(wrong) = -log(1 + e^z), stably.
    loglik = x * -np.logaddexp(0.0, -z) + (1.0 - x) * -np.logaddexp(0.0, z)
    log_post = np.cumsum(loglik, axis=0) + LOG_PRIOR[None, :]
    log_post -= log_post.max(axis=1, keepdims=True)
    weights = np.exp(log_post)
    weights /= weights.sum(axis=1, keepdims=True)
    theta = weights @ GRID
    se = np.sqrt(np.maximum(weights @ GRID**2 - theta**2, 0.0))
    return theta, se
