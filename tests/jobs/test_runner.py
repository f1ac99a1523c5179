"""The lifecycle's building blocks, run in process against PostgreSQL."""

import pytest
from django.db import transaction
from django.test import override_settings

from jobs import runner, services
from jobs.models import Job

pytestmark = pytest.mark.django_db


def queued(organisation, **fields):
    return Job.objects.create(organisation=organisation, kind=Job.Kind.PROBE, **fields)


def test_claim_marks_running_once(organisation):
    job = queued(organisation)
    claimed = runner.claim(job.pk)
    assert (claimed.status, claimed.attempts) == ("running", 1)
    assert claimed.claimed_by == runner.claimant_name()
    assert claimed.lease_expires_at > claimed.started_at
    # The same process delivering again finds its own live claim: busy.
    with pytest.raises(runner.Busy):
        runner.claim(job.pk)


def test_claim_ignores_finished_and_unknown_jobs(organisation):
    import uuid

    done = queued(organisation, status=Job.Status.SUCCEEDED)
    assert runner.claim(done.pk) is None
    assert runner.claim(uuid.uuid4()) is None


def test_an_outcome_from_a_worker_that_lost_the_job_is_dropped(organisation):
    job = runner.claim(queued(organisation).pk)
    Job.objects.filter(pk=job.pk).update(claimed_by="another-host:1")
    assert runner.finish(job, Job.Status.SUCCEEDED, claimant=job.claimed_by) is None
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING


def test_a_finished_job_is_not_finished_again(organisation):
    job = runner.claim(queued(organisation).pk)
    first = runner.finish(
        job, Job.Status.SUCCEEDED, claimant=job.claimed_by, result={"n": 1}
    )
    assert first.result == {"n": 1}
    assert runner.finish(job.pk, Job.Status.FAILED, error="late") is None
    job.refresh_from_db()
    assert (job.status, job.result, job.error) == ("succeeded", {"n": 1}, "")


def test_a_member_ended_at_claim_time_still_finishes_its_batch(organisation):
    with transaction.atomic():
        batch = services.create_job(
            organisation=organisation, kind=Job.Kind.REPORT_BATCH, publish=False
        )
    member = queued(organisation, parent=batch, cancel_requested=True)
    assert runner.claim(member.pk) is None
    member.refresh_from_db()
    batch.refresh_from_db()
    assert member.status == Job.Status.CANCELLED
    assert batch.is_terminal
    assert batch.result["cancelled"] == 1


def test_out_of_attempts_at_claim_goes_to_the_dead_letter(organisation):
    job = queued(organisation, attempts=3, max_attempts=3)
    assert runner.claim(job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.dead_letter, job.error_code) == (
        "failed",
        True,
        "worker_lost",
    )


@override_settings(JOBS_RETRY_BACKOFF_SECONDS=5, JOBS_RETRY_BACKOFF_MAX_SECONDS=60)
def test_backoff_grows_with_jitter_and_is_capped():
    for attempt, ceiling in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (20, 60)]:
        waits = {runner.retry_countdown(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits), attempt
        assert len(waits) > 1, "no jitter"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"seconds": -1}, "probe seconds"),
        ({"seconds": True}, "probe seconds"),
        ({"fail": "sometimes"}, "probe fail"),
        ({"fail": "transient", "times": "2"}, "probe times"),
        ({"colour": "red"}, "unknown probe parameters"),
    ],
)
def test_probe_parameters_are_validated(params, message):
    from dreamseed.exceptions import PermanentJobError
    from jobs.tasks import probe_options

    with pytest.raises(PermanentJobError, match=message):
        probe_options(params)


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_database_connection_was_killed_is_requeued_at_once(
    organisation,
):
    from celery.exceptions import Retry
    from django.db import OperationalError, connection, connections

    job = queued(organisation)

    class Task:
        def retry(self, countdown, max_retries):
            return Retry()

    def handler(job, ctx):
        # The server ends this process's connection (a restart, a failover,
        # an administrator's pg_terminate_backend) while the job runs.
        backend = connection.connection.info.backend_pid
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        finally:
            other.close()
        with pytest.raises(OperationalError):
            Job.objects.count()
        Job.objects.count()

    with pytest.raises(Retry):
        runner.run_job(Task(), job.pk, handler)

    # Requeued now, not left running until its lease expires.
    job.refresh_from_db()
    assert (job.status, job.error_code) == (Job.Status.QUEUED, "retrying")


@pytest.mark.django_db(transaction=True)
def test_a_finished_job_survives_its_connection_dying_before_the_outcome(
    organisation,
):
    """The work is done; a connection the server closed must not lose it."""
    from django.db import connection, connections

    job = queued(organisation)

    class Task:
        def retry(self, **kwargs):
            raise AssertionError(f"finished work must not be retried: {kwargs}")

    def handler(job, ctx):
        backend = connection.connection.info.backend_pid
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        finally:
            other.close()
        return {"answer": 42}  # the connection is dead when the outcome is written

    runner.run_job(Task(), job.pk, handler)
    job.refresh_from_db()
    assert (job.status, job.result, job.attempts) == (
        Job.Status.SUCCEEDED,
        {"answer": 42},
        1,
    )


@pytest.mark.parametrize(
    ("outcomes", "status", "code", "error"),
    [
        (["succeeded", "succeeded", "succeeded"], "succeeded", "", ""),
        (
            ["succeeded", "cancelled", "succeeded"],
            "cancelled",
            "members_cancelled",
            "1 of 3 members were cancelled; the others succeeded.",
        ),
        (
            ["failed", "cancelled", "succeeded"],
            "failed",
            "members_failed",
            "1 of 3 members failed and 1 were cancelled.",
        ),
        (
            ["failed", "failed", "succeeded"],
            "failed",
            "members_failed",
            "2 of 3 members failed.",
        ),
    ],
)
def test_a_batch_ends_as_its_members_did(organisation, outcomes, status, code, error):
    with transaction.atomic():
        batch = services.create_job(
            organisation=organisation, kind=Job.Kind.REPORT_BATCH, publish=False
        )
    for outcome in outcomes:
        queued(organisation, parent=batch, status=outcome)
    batch = services.update_batch(batch.pk)
    assert (batch.status, batch.error_code, batch.error) == (status, code, error)
    assert batch.result["cancelled"] == outcomes.count("cancelled")


def test_progress_of_a_worker_that_lost_the_job_changes_nothing(organisation):
    import threading

    job = runner.claim(queued(organisation).pk)
    stale = runner.JobContext(job, threading.Event())
    # Another worker took the job over after this one's lease expired.
    Job.objects.filter(pk=job.pk).update(claimed_by="elsewhere:1", progress_percent=7)
    stale.progress(90, "late")
    job.refresh_from_db()
    assert (job.claimed_by, job.progress_percent) == ("elsewhere:1", 7)
