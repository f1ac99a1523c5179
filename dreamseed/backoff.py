"""Waiting before another attempt, shared by job retries and webhooks."""

import random


def capped_backoff(attempt, base_seconds, max_seconds):
    """Seconds to wait before attempt ``attempt + 1``.

    The wait doubles with each attempt up to ``max_seconds``; the actual
    value is drawn between half the ceiling and the ceiling, so workers
    that failed together do not all come back at the same moment.
    """
    ceiling = min(max_seconds, base_seconds * 2 ** max(attempt - 1, 0))
    return random.uniform(ceiling / 2, ceiling)
