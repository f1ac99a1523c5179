"""Keep a report's status in step with its job's outcome."""

from django.dispatch import receiver
from django.utils import timezone

from jobs.models import Job
from jobs.signals import job_finished, job_requeued

from .models import Report


@receiver(job_finished)
def sync_report_status(sender, job, **kwargs):
    if job.kind != Job.Kind.REPORT or job.status == Job.Status.SUCCEEDED:
        return
    status = (
        Report.Status.CANCELLED
        if job.status == Job.Status.CANCELLED
        else Report.Status.FAILED
    )
    Report.objects.filter(job=job).exclude(status=Report.Status.SUCCEEDED).update(
        status=status, error=job.error, finished_at=timezone.now()
    )


@receiver(job_requeued)
def reopen_report(sender, job, **kwargs):
    if job.kind != Job.Kind.REPORT:
        return
    Report.objects.filter(job=job).exclude(status=Report.Status.SUCCEEDED).update(
        status=Report.Status.QUEUED, error="", finished_at=None
    )
