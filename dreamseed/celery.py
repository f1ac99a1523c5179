"""The Celery application of DreamSeed jobs."""

import os

# One BLAS thread per worker process: with two, a calibration used twice the
# CPU for the same wall time on a 2-core machine. Set before numpy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dreamseed.settings")

from celery import Celery, signals  # noqa: E402

app = Celery("dreamseed")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_postrun.connect
def drop_broken_connections(**kwargs):
    """Close a database connection that failed during the task just run.

    Connections outlive tasks here (``CELERY_DB_REUSE_MAX``), so Celery no
    longer checks them between tasks as Django does between requests. A
    connection the server closed (a restart, a fail-over, an idle timeout)
    would fail every later task of this process; closing it lets the next
    task open a fresh one. Only a connection that saw an error is checked,
    so a healthy one costs nothing.
    """
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.errors_occurred:
            connection.close_if_unusable_or_obsolete()
