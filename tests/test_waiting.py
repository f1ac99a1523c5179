"""What a command says while its job waits for a worker."""

import io

import pytest
from django.core.management.base import CommandError

from dreamseed import waiting
from jobs.models import Job


@pytest.mark.parametrize(
    ("kind", "queue"),
    [
        (Job.Kind.CALIBRATION, "irt"),
        (Job.Kind.REPORT, "reports"),
        (Job.Kind.EMAIL, "emails"),
        (Job.Kind.EXPORT, "exports"),
        (Job.Kind.PROBE, "default"),
    ],
)
def test_the_hint_names_the_queue_the_job_waits_on(kind, queue):
    hint = waiting.worker_hint(Job(kind=kind))
    assert hint == (
        f"no worker has started this job yet: the workers of the {queue!r} queue "
        "are busy with other jobs, or none is running. To start one, in another "
        f"terminal:\n  .venv/bin/celery -A dreamseed worker -Q {queue}\n"
    )


def test_a_job_still_queued_gets_the_hint_once(organisation, monkeypatch):
    from jobs.services import create_job

    job = create_job(
        organisation=organisation, kind=Job.Kind.CALIBRATION, publish=False
    )
    monkeypatch.setattr(waiting, "NO_WORKER_HINT_SECONDS", 0)
    out = io.StringIO()
    with pytest.raises(CommandError, match="did not finish within 1 s"):
        waiting.wait_for_job(job.pk, timeout=1, stream=out, label="calibration")
    assert out.getvalue().count("'irt' queue") == 1


def test_the_hint_for_a_batch_names_the_queue_its_members_wait_on():
    hint = waiting.worker_hint(Job(kind=Job.Kind.REPORT_BATCH))
    assert "the workers of the 'reports' queue" in hint
    assert hint.endswith("worker -Q reports\n")


def test_a_batch_whose_members_have_started_gets_no_hint(organisation, monkeypatch):
    from jobs.services import create_job, create_jobs

    batch = create_job(
        organisation=organisation, kind=Job.Kind.REPORT_BATCH, publish=False
    )
    members = create_jobs(
        organisation=organisation,
        kind=Job.Kind.REPORT,
        params_list=[{}, {}],
        parent=batch,
    )
    # A worker renders the first member; none has ended, so the batch itself
    # still reads queued.
    Job.objects.filter(pk=members[0].pk).update(status=Job.Status.RUNNING)
    monkeypatch.setattr(waiting, "NO_WORKER_HINT_SECONDS", 0)
    out = io.StringIO()
    with pytest.raises(CommandError, match="did not finish within 1 s"):
        waiting.wait_for_job(batch.pk, timeout=1, stream=out, label="reports")
    assert "no worker has started" not in out.getvalue()
