"""A job killed by its hard time limit is recorded as such, at once.

The hard limit kills the pool child running the job, so the job's own code
cannot record anything, and the message is acknowledged. The job used to
stay running until its lease expired, was then run again by the sweeper
(killed again each time), and ended blamed on a lost worker.
"""

import pytest
from django.db import transaction

from jobs import services
from jobs.models import Job
from jobs.services import TASKS_BY_KIND
from tests.conftest import wait_for_job

pytestmark = pytest.mark.integration


def test_a_job_over_its_hard_time_limit_fails_saying_so(worker, organisation):
    with transaction.atomic():
        job = services.create_job(
            organisation=organisation,
            kind=Job.Kind.PROBE,
            params={"seconds": 30},
            publish=False,
        )
    # As a task whose hard limit is its only one (e-mail jobs) is sent.
    TASKS_BY_KIND[job.kind].apply_async(args=[str(job.pk)], time_limit=2)

    # Well before the lease (three heartbeats) could expire twice over, and
    # with no sweeper to publish it again.
    job = wait_for_job(job.pk, timeout=15)
    assert (job.status, job.error_code, job.attempts) == ("failed", "time_limit", 1)
    assert "time limit" in job.error
    assert job.dead_letter is False
    assert job.lease_expires_at is None
