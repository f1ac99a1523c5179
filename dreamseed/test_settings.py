"""Settings for the test suite: the real PostgreSQL and Redis on 127.0.0.1.

Each can be overridden from the environment; the defaults are the services a
developer machine and CI run locally.
"""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dreamseed")
# A Redis database of its own, flushed by the tests.
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("DREAMSEED_ALLOW_DEFAULT_SECRET", "1")
if "DREAMSEED_VAR_DIR" not in os.environ:
    # Made once by the test process; workers inherit it; removed at the end.
    os.environ["DREAMSEED_VAR_DIR"] = tempfile.mkdtemp(prefix="dreamseed-test-")
    os.environ["DREAMSEED_TEST_VAR_DIR_OWNER"] = str(os.getpid())
# Short cycles so lifecycle tests finish in seconds.
os.environ.setdefault("JOBS_HEARTBEAT_SECONDS", "1")
os.environ.setdefault("JOBS_RETRY_BACKOFF_SECONDS", "1")
os.environ.setdefault("JOBS_RETRY_BACKOFF_MAX_SECONDS", "2")
os.environ.setdefault("JOBS_REQUEUE_AFTER_SECONDS", "5")
os.environ.setdefault("REPORTS_ENGINE", "builtin")
# Workers started by one test must see endpoints saved by the next at once;
# the refresh itself has a test of its own.
os.environ.setdefault("WEBHOOKS_ENDPOINTS_REFRESH_SECONDS", "0")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"submissions": "100000/minute"},
}

# The tests flush their Redis database; keep cached throttle counts out of it.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# A worker started by a test may be given templates of the test's own (a
# slow one, to cancel a render part-way).
if os.environ.get("DREAMSEED_TEST_TEMPLATE_DIR"):
    from pathlib import Path

    REPORTS_TEMPLATE_DIR = Path(os.environ["DREAMSEED_TEST_TEMPLATE_DIR"])
