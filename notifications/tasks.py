"""Celery tasks of the notifications app."""

from jobs.models import Job
from jobs.runner import job_task

from . import services


@job_task(kind=Job.Kind.EMAIL, name="dreamseed.notifications.send_email", time_limit=600)
def send_email(job, ctx):
    """Send one message to the job's recipients."""
    return services.send_job_emails(job, progress=ctx.progress)


@job_task(
    kind=Job.Kind.BULK_EMAIL, name="dreamseed.notifications.send_bulk_email", time_limit=3600
)
def send_bulk_email(job, ctx):
    """Send one message to many recipients over one SMTP connection."""
    return services.send_job_emails(job, progress=ctx.progress)
