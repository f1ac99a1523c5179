"""Celery tasks of the reports app."""

from django.conf import settings

from jobs.models import Job
from jobs.runner import job_task

from . import services
from .models import Report


@job_task(
    kind=Job.Kind.REPORT,
    name="dreamseed.reports.render_report",
    soft_time_limit=settings.REPORTS_TIME_LIMIT_SECONDS,
    time_limit=settings.REPORTS_TIME_LIMIT_SECONDS + 30,
)
def render_report(job, ctx):
    """Render one student's report and queue its e-mail, if one was asked for."""
    report = Report.objects.select_related("organisation", "student", "assessment").get(
        pk=job.params["report"]
    )
    result = services.render(
        report, progress=ctx.progress, checkpoint=ctx.check_cancelled
    )
    services.follow_with_email(job, result["report"])
    return result
