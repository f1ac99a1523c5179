"""Following a job from the command line."""

import logging
import sys
import time
from contextlib import contextmanager

from django.core.management.base import CommandError

from jobs.models import Job

# A job still queued after this many seconds probably has no worker.
NO_WORKER_HINT_SECONDS = 10

WORKER_HINT = (
    "no worker has started this job yet; start one in another terminal with\n"
    "  .venv/bin/celery -A dreamseed worker\n"
)


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
        if (
            job.status == Job.Status.QUEUED
            and not hinted
            and waited > NO_WORKER_HINT_SECONDS
        ):
            stream.write(("\n" if interactive else "") + f"{label}: {WORKER_HINT}")
            hinted = True
            last = None
        if time.monotonic() > deadline:
            if interactive:
                stream.write("\n")
            hint = " (is a worker running?)" if job.status == Job.Status.QUEUED else ""
            raise CommandError(
                f"{label} {job.pk} did not finish within {timeout} s; it is still "
                f"{job.status}{hint}."
            )
        time.sleep(0.25)
