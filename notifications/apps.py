import logging

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from jobs.signals import job_finished

        from . import tasks  # noqa: F401  (registers the job kinds)

        job_finished.connect(_queue_webhooks, dispatch_uid="notifications.webhooks")
        job_finished.connect(_close_deliveries, dispatch_uid="notifications.emails")
        for signal in (post_save, post_delete):
            signal.connect(
                _forget_endpoint_owners,
                sender="notifications.WebhookEndpoint",
                dispatch_uid=f"notifications.endpoint_owners.{signal}",
            )


def _queue_webhooks(sender, job, **kwargs):
    from .services import queue_webhooks

    # A webhook problem must never change the outcome of the job itself.
    try:
        queue_webhooks(job)
    except Exception:
        logger.exception("job %s: webhooks could not be queued", job.pk)


def _close_deliveries(sender, job, **kwargs):
    """Say which recipients an e-mail job that did not succeed never mailed."""
    from jobs.models import Job

    from .models import EmailDelivery

    if job.kind not in (Job.Kind.EMAIL, Job.Kind.BULK_EMAIL):
        return
    if job.status == Job.Status.SUCCEEDED:
        return
    # A job that ended before it ran (cancelled while queued) has no rows
    # yet: each recipient it names gets one, so none goes unlisted.
    EmailDelivery.objects.bulk_create(
        [
            EmailDelivery(job=job, recipient=address)
            for address in dict.fromkeys(job.params.get("to", []))
        ],
        ignore_conflicts=True,
    )
    unsent = EmailDelivery.objects.filter(job=job, status=EmailDelivery.Status.PENDING)
    # A recipient's own temporary refusal is the better reason; keep it.
    unsent.filter(reason="").update(reason=f"Not sent: {job.error}"[:1000])
    unsent.update(status=EmailDelivery.Status.NOT_SENT)


def _forget_endpoint_owners(sender, **kwargs):
    from .services import ENDPOINT_OWNERS

    ENDPOINT_OWNERS.forget()
