"""An outcome the database cannot store ends the job readably.

``json.dumps`` writes NaN and Infinity, which are not JSON, and PostgreSQL
refuses them in jsonb and NUL in any text. Left running, such a job would be
run again and finally blamed on a lost worker.
"""

import math

import pytest

from jobs import runner
from jobs.models import Job


class Task:
    soft_time_limit = None

    def retry(self, **kwargs):
        raise AssertionError(f"finished work must not be retried: {kwargs}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "result",
    [{"x": math.nan}, {"x": math.inf}, {"text": "a\x00b"}],
    ids=["nan", "infinity", "nul"],
)
def test_a_result_that_cannot_be_stored_fails_the_job_readably(organisation, result):
    job = Job.objects.create(organisation=organisation, kind=Job.Kind.PROBE)
    runner.run_job(Task(), job.pk, lambda job, ctx: result)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error_code == "unstorable_outcome" and not job.dead_letter
    assert job.error.startswith("The job's outcome (succeeded) could not be stored: ")
    assert job.lease_expires_at is None and job.result is None


@pytest.mark.django_db(transaction=True)
def test_an_error_message_with_a_nul_byte_is_stored_visibly(organisation):
    from dreamseed.exceptions import PermanentJobError

    def fail(job, ctx):
        raise PermanentJobError("bad row: a\x00b")

    job = Job.objects.create(organisation=organisation, kind=Job.Kind.PROBE)
    runner.run_job(Task(), job.pk, fail)
    job.refresh_from_db()
    assert (job.status, job.error) == (Job.Status.FAILED, "bad row: a\\x00b")
