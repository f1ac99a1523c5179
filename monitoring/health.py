"""Health checks: the database, the broker and the workers."""

import logging

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker():
    from dreamseed.celery import app

    # A fresh connection to the configured URL, not one from the pool, so
    # the check sees the broker as it is now.
    with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_TIMEOUT_SECONDS)


def check_workers():
    from dreamseed.celery import app

    replies = app.control.ping(timeout=settings.HEALTH_TIMEOUT_SECONDS)
    if not replies:
        raise RuntimeError("no worker answered the ping")


CHECKS = [
    ("database", check_database),
    ("broker", check_broker),
    ("workers", check_workers),
]


def run_checks():
    """Return ``{part: "ok" | "failed" | "skipped"}``; details go to the log."""
    results = {}
    for name, check in CHECKS:
        if name == "workers" and results.get("broker") != "ok":
            # Pinging through a broker that is down would only wait.
            results[name] = "skipped"
            continue
        try:
            check()
        except Exception as exc:
            # One line: a load balancer polling a sick service every few
            # seconds would bury the log in tracebacks.
            logger.warning(
                "health check %s failed: %s: %s", name, type(exc).__name__, exc
            )
            results[name] = "failed"
        else:
            results[name] = "ok"
    return results
