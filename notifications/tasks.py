"""Celery tasks of the notifications app (queue "emails")."""

import logging

from celery import shared_task

from jobs.models import Job
from jobs.runner import job_task

from . import services

logger = logging.getLogger(__name__)


@job_task(
    kind=Job.Kind.EMAIL, name="dreamseed.notifications.send_email", time_limit=600
)
def send_email(job, ctx):
    """Send one message to the job's recipients."""
    return services.send_job_emails(job, progress=ctx.progress)


@job_task(
    kind=Job.Kind.BULK_EMAIL,
    name="dreamseed.notifications.send_bulk_email",
    time_limit=3600,
)
def send_bulk_email(job, ctx):
    """Send one message to many recipients over one SMTP connection."""
    return services.send_job_emails(job, progress=ctx.progress)


@shared_task(
    bind=True,
    name="dreamseed.notifications.deliver_webhook",
    max_retries=None,
    acks_late=True,
    time_limit=120,
    ignore_result=True,
)
def deliver_webhook(self, delivery_id):
    """Deliver one webhook event; retried with capped backoff while it may work."""
    try:
        services.attempt_delivery(delivery_id)
    except services.RetryWebhook as exc:
        countdown = services.webhook_backoff(self.request.retries + 1)
        logger.warning(
            "webhook delivery %s failed (%s); retrying in %.0f s",
            delivery_id,
            exc,
            countdown,
        )
        raise self.retry(countdown=countdown)
