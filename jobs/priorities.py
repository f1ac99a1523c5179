"""The API's priority contract and its mapping onto the broker.

Clients speak 0-9 where a higher number is more urgent. Redis (with ten
priority steps configured) serves the lowest number first, so every publish
sets ``broker_priority(priority)`` explicitly: an unset priority would land in
Redis's most urgent lane.
"""

MIN_PRIORITY = 0
MAX_PRIORITY = 9
DEFAULT_PRIORITY = 5


def broker_priority(priority):
    """Return the broker priority for an API priority (0-9, 9 most urgent)."""
    if priority is None:
        priority = DEFAULT_PRIORITY
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise TypeError(f"priority must be an int, not {priority!r}")
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority must be between 0 and 9, not {priority!r}")
    return MAX_PRIORITY - priority
