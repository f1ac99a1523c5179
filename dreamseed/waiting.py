"""Following a job from the command line."""

import sys
import time

from django.core.management.base import CommandError

from jobs.models import Job


def wait_for_job(job_id, *, timeout, stream=None, label="job"):
    """Show a progress bar until the job ends; return the finished job."""
    stream = stream or sys.stdout
    deadline = time.monotonic() + timeout
    last = None
    while True:
        job = Job.objects.get(pk=job_id)
        line = f"{label}: [{'#' * (job.progress_percent // 5):<20}] {job.progress_percent:3d}% "
        line += job.progress_step or job.status
        if line != last:
            stream.write("\r" + line.ljust(72))
            stream.flush()
            last = line
        if job.is_terminal:
            stream.write("\n")
            return job
        if time.monotonic() > deadline:
            stream.write("\n")
            hint = " (is a worker running?)" if job.status == Job.Status.QUEUED else ""
            raise CommandError(
                f"{label} {job.pk} did not finish within {timeout} s; it is still "
                f"{job.status}{hint}."
            )
        time.sleep(0.25)
