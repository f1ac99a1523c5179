import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from jobs.signals import job_finished

        from . import tasks  # noqa: F401  (registers the job kinds)

        job_finished.connect(_queue_webhooks, dispatch_uid="notifications.webhooks")


def _queue_webhooks(sender, job, **kwargs):
    from .services import queue_webhooks

    # A webhook problem must never change the outcome of the job itself.
    try:
        queue_webhooks(job)
    except Exception:
        logger.exception("job %s: webhooks could not be queued", job.pk)
