"""Following a job from the command line."""

import logging
import sys
import time
from contextlib import contextmanager

from django.core.management.base import CommandError

from jobs.models import Job

# A job still queued after this many seconds probably has no worker.
NO_WORKER_HINT_SECONDS = 10


def worker_hint(job):
    """Say why a job may still be queued and how to start a worker for it."""
    queue = queue_of(job)
    return (
        f"no worker has started this job yet: the workers of the {queue!r} queue "
        "are busy with other jobs, or none is running. To start one, in another "
        f"terminal:\n  .venv/bin/celery -A dreamseed worker -Q {queue}\n"
    )


# A batch has no task of its own: its members do the work.
MEMBER_KIND = {Job.Kind.REPORT_BATCH: Job.Kind.REPORT}


def queue_of(job):
    """The queue the job's task is routed to (a batch's: its members')."""
    from django.conf import settings

    from dreamseed.celery import app
    from jobs.services import TASKS_BY_KIND

    task = TASKS_BY_KIND.get(MEMBER_KIND.get(job.kind, job.kind))
    if task is None:
        return settings.CELERY_TASK_DEFAULT_QUEUE
    # Celery's own router, so the answer is where the message really goes.
    return app.amqp.router.route({}, task.name)["queue"].name


def _not_started(job):
    """Whether no worker has started the job (for a batch: any member) yet."""
    if job.status != Job.Status.QUEUED:
        return False
    if job.kind in MEMBER_KIND:
        # A batch reads queued until a member ends, however long it runs.
        return not job.children.exclude(status=Job.Status.QUEUED).exists()
    return True


@contextmanager
def quiet_logging(verbosity):
    """Keep INFO log lines from breaking a command's progress bar."""
    root = logging.getLogger()
    level = root.level
    if verbosity < 2:
        root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


def wait_for_job(job_id, *, timeout, stream=None, label="job"):
    """Show progress until the job ends; return the finished job.

    On a terminal the bar is redrawn in place; elsewhere one line is written
    per change of step, so logs stay readable.
    """
    stream = stream or sys.stdout
    interactive = stream.isatty()
    started = time.monotonic()
    deadline = started + timeout
    last = None
    hinted = False
    while True:
        job = Job.objects.get(pk=job_id)
        step = job.progress_step or job.status
        if interactive:
            bar = "#" * (job.progress_percent // 5)
            line = f"\r{label}: [{bar:<20}] {job.progress_percent:3d}% {step}".ljust(73)
        else:
            line = f"{label}: {step}\n"
        if line != last:
            stream.write(line)
            stream.flush()
            last = line
        if job.is_terminal:
            if interactive:
                stream.write("\n")
            return job
        waited = time.monotonic() - started
        if not hinted and waited > NO_WORKER_HINT_SECONDS and _not_started(job):
            stream.write(("\n" if interactive else "") + f"{label}: {worker_hint(job)}")
            hinted = True
            last = None
        if time.monotonic() > deadline:
            if interactive:
                stream.write("\n")
            hint = " (is a worker running?)" if _not_started(job) else ""
            raise CommandError(
                f"{label} {job.pk} did not finish within {timeout} s; it is still "
                f"{job.status}{hint}."
            )
        time.sleep(0.25)
