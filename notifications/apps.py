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


def _forget_endpoint_owners(sender, **kwargs):
    from .services import ENDPOINT_OWNERS

    ENDPOINT_OWNERS.forget()
