"""The job lifecycle against a real worker, PostgreSQL and Redis."""

import os
import signal
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from jobs import services
from jobs.models import Job
from jobs.tasks import sweep_jobs
from tests.conftest import wait_for, wait_for_job

pytestmark = pytest.mark.integration


def submit_probe(organisation, **params):
    with transaction.atomic():
        return services.create_job(
            organisation=organisation, kind=Job.Kind.PROBE, params=params
        )


def test_a_probe_succeeds_once(organisation, worker):
    job = wait_for_job(submit_probe(organisation).pk)
    assert (job.status, job.attempts, job.result) == ("succeeded", 1, job.result)
    assert job.result == {"slept": 0, "attempt": 1}
    assert job.progress_percent == 100 and job.lease_expires_at is None


def test_killed_worker_child_is_redelivered_and_finishes(organisation, worker):
    job = submit_probe(organisation, seconds=3)
    running = wait_for_job(job.pk, statuses=[Job.Status.RUNNING])
    pid = int(running.claimed_by.rpartition(":")[2])
    assert pid in worker.child_pids()
    os.kill(pid, signal.SIGKILL)

    job = wait_for_job(job.pk, timeout=60)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.attempts == 2
    assert int(job.claimed_by.rpartition(":")[2]) != pid


def test_sweeper_republishes_jobs_lost_in_a_flushed_broker(
    organisation, worker_factory, redis_client
):
    jobs = [submit_probe(organisation) for _ in range(3)]
    redis_client.flushdb()
    worker = worker_factory(concurrency=2)
    with pytest.raises(AssertionError):
        wait_for_job(jobs[0].pk, timeout=2)
    # The sweeps below pretend it is later than it is: a job a live worker
    # claimed meanwhile would look as if its lease had run out. So no worker
    # runs while they do.
    worker.stop()
    # Sweep at times relative to the publication, not the wall clock: a slow
    # worker start must not make "too early" late.
    published = max(
        Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list(
            "published_at", flat=True
        )
    )
    early = published + timedelta(seconds=1)
    assert services.sweep(now=early) == 0, "too early: the jobs were just published"

    later = published + timedelta(seconds=6)
    assert services.sweep(now=later) == 3
    worker_factory(concurrency=2)
    for job in jobs:
        job = wait_for_job(job.pk)
        assert (job.status, job.attempts, job.publish_count) == ("succeeded", 1, 2)
    # Once finished, nothing is due any more.
    assert sweep_jobs() == 0


def test_cancel_queued_and_running_jobs(organisation, worker):
    running = submit_probe(organisation, seconds=30)
    wait_for_job(running.pk, statuses=[Job.Status.RUNNING])
    queued = submit_probe(organisation, seconds=0)
    assert services.cancel_job(queued).status == Job.Status.CANCELLED

    asked = timezone.now()
    services.cancel_job(running)
    running = wait_for_job(running.pk, timeout=10)
    assert running.status == Job.Status.CANCELLED
    assert running.finished_at - asked < timedelta(seconds=5)
    assert running.error == "Cancelled while running."

    # The cancelled queued job's message arrives after and changes nothing.
    wait_for(lambda: str(queued.pk) in worker.output(), message="the delivery")
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == ("cancelled", 0)


def test_transient_failures_are_retried_until_success(organisation, worker):
    job = wait_for_job(submit_probe(organisation, fail="transient", times=2).pk)
    assert (job.status, job.attempts, job.dead_letter) == ("succeeded", 3, False)
    assert job.result["attempt"] == 3


def test_exhausted_retries_end_in_the_dead_letter(organisation, worker, api):
    job = wait_for_job(submit_probe(organisation, fail="transient").pk)
    assert (job.status, job.attempts, job.dead_letter) == ("failed", 3, True)
    assert job.error.startswith("Gave up after 3 attempts.")
    assert "probe asked to fail attempt 3" in job.error
    listed = api.get("/api/v1/jobs/dead-letter/").json()["results"]
    assert [j["id"] for j in listed] == [str(job.pk)]


def test_permanent_failure_fails_at_once(organisation, worker):
    job = wait_for_job(submit_probe(organisation, fail="permanent").pk)
    assert (job.status, job.attempts, job.dead_letter) == ("failed", 1, False)
    assert (job.error, job.error_code) == ("probe asked to fail", "permanent_error")


def test_invalid_probe_parameters_fail_with_a_readable_error(organisation, worker):
    job = wait_for_job(submit_probe(organisation, seconds="soon").pk)
    assert job.status == Job.Status.FAILED and job.attempts == 1
    assert "probe seconds must be between 0 and 60, not 'soon'" in job.error


def test_duplicate_delivery_of_a_finished_job_changes_nothing(organisation, worker):
    job = wait_for_job(submit_probe(organisation).pk)
    assert services.publish_job(job.pk) is False, "a finished job is not sent"

    # Force the message through anyway, as a broker redelivery would.
    services.send_job(job, "duplicate-delivery")
    wait_for(
        lambda: "duplicate-delivery] succeeded" in worker.output(),
        message="the duplicate to be handled",
    )
    again = Job.objects.get(pk=job.pk)
    assert (again.result, again.finished_at, again.attempts) == (
        job.result,
        job.finished_at,
        1,
    )


@pytest.mark.parametrize(
    ("attempts", "status", "error"),
    [
        (1, Job.Status.SUCCEEDED, ""),
        (3, Job.Status.FAILED, "Gave up after 3 attempts: the worker was lost"),
    ],
)
def test_a_job_whose_lease_expired_is_finished_by_the_sweeper(
    organisation, worker, attempts, status, error
):
    past = timezone.now() - timedelta(seconds=30)
    with transaction.atomic():
        job = services.create_job(
            organisation=organisation, kind=Job.Kind.PROBE, publish=False
        )
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        attempts=attempts,
        claimed_by="a-host-that-is-gone:4242",
        started_at=past,
        heartbeat_at=past,
        lease_expires_at=past + timedelta(seconds=3),
        published_at=past,
        publish_count=1,
    )
    assert services.sweep() == 1
    assert services.sweep() == 0, "published once per expiry, not every sweep"
    job = wait_for_job(job.pk)
    assert job.status == status
    assert job.error.startswith(error)
    assert job.attempts == min(attempts + 1, 3)
    assert job.dead_letter is (status == Job.Status.FAILED)
