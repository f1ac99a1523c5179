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
