"""Celery tasks of the exports app (queue "exports")."""

from django.conf import settings

from jobs.models import Job
from jobs.runner import job_task

from . import services


@job_task(
    kind=Job.Kind.EXPORT,
    name="dreamseed.exports.export",
    soft_time_limit=settings.EXPORTS_TIME_LIMIT_SECONDS,
    time_limit=settings.EXPORTS_TIME_LIMIT_SECONDS + 30,
)
def export(job, ctx):
    """Write the job's export file and store it."""
    return services.run_export_job(job, progress=ctx.progress)
