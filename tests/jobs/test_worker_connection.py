"""A worker whose idle database connection the server closed keeps working.

PostgreSQL restarts, fail-overs, idle-session timeouts and pg_terminate_backend
all close connections that a worker keeps between tasks (CELERY_DB_REUSE_MAX).
"""

import pytest
from django.db import connection, transaction

from jobs import services
from jobs.models import Job
from tests.conftest import wait_for_job

pytestmark = pytest.mark.integration


def submit_probe(organisation, **params):
    with transaction.atomic():
        return services.create_job(
            organisation=organisation, kind=Job.Kind.PROBE, params=params
        )


def terminate_other_backends():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_jobs_run_after_the_workers_idle_connection_was_closed(organisation, worker):
    first = wait_for_job(submit_probe(organisation).pk, timeout=60)
    assert first.status == Job.Status.SUCCEEDED
    assert terminate_other_backends() >= 1  # the worker child's connection

    job = wait_for_job(submit_probe(organisation).pk, timeout=30)
    assert job.status == Job.Status.SUCCEEDED, job.error


def test_other_tasks_recover_after_one_failure(organisation, worker):
    from jobs.tasks import diagnostic_noop

    assert diagnostic_noop.apply_async(args=[1]).get(timeout=60) == 1
    assert terminate_other_backends() >= 1
    # A plain task (here one that stores its result) may fail once on the
    # dead connection; the next one runs on a fresh connection.
    outcomes = []
    for value in (2, 3):
        try:
            outcomes.append(diagnostic_noop.apply_async(args=[value]).get(timeout=30))
        except Exception as exc:  # the failure of the first, as Celery reports it
            outcomes.append(type(exc).__name__)
    assert outcomes[-1] == 3
