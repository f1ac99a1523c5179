"""E-mail deliveries (one row per recipient of a job) and webhooks."""

import secrets
import uuid

from django.db import models


class EmailDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # The job ended (failed, cancelled) before this recipient was mailed;
        # running the job again tries them.
        NOT_SENT = "not_sent", "Not sent"

    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="emails")
    recipient = models.EmailField("recipient")
    status = models.CharField(
        "status", max_length=16, choices=Status.choices, default=Status.PENDING
    )
    reason = models.TextField("reason", blank=True)
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    sent_at = models.DateTimeField("sent", null=True, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "recipient"], name="email_once_per_job"
            )
        ]

    def __str__(self):
        return f"{self.recipient} ({self.status})"


def new_webhook_secret():
    return secrets.token_hex(32)


class WebhookEndpoint(models.Model):
    """A URL an organisation asked us to call when its jobs end."""

    class Event(models.TextChoices):
        JOB_SUCCEEDED = "job.succeeded", "Job succeeded"
        JOB_FAILED = "job.failed", "Job failed"
        JOB_CANCELLED = "job.cancelled", "Job cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "assessments.Organisation",
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name="organisation",
    )
    url = models.URLField(
        "URL", max_length=500, help_text="https only, and only public addresses."
    )
    secret = models.CharField(
        "secret",
        max_length=64,
        default=new_webhook_secret,
        editable=False,
        help_text="Key of the HMAC-SHA256 signature; generated here, never chosen.",
    )
    active = models.BooleanField(
        "active", default=True, help_text="Inactive endpoints receive nothing."
    )
    events = models.JSONField(
        "events",
        default=list,
        blank=True,
        help_text="Event names to send (job.succeeded, job.failed, job.cancelled); "
        "empty means all.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook endpoint"

    def __str__(self):
        return self.url

    def wants(self, event):
        return not self.events or event in self.events


class WebhookDelivery(models.Model):
    """One event sent to one endpoint; its id is the event id receivers dedup on."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name="endpoint",
    )
    job = models.ForeignKey(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_deliveries",
        verbose_name="job",
    )
    event = models.CharField("event", max_length=32, help_text="e.g. job.succeeded.")
    payload = models.JSONField("payload", help_text="The JSON body sent.")
    status = models.CharField(
        "status", max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    status_code = models.PositiveSmallIntegerField(
        "last HTTP status", null=True, blank=True
    )
    response_snippet = models.CharField(
        "response snippet",
        max_length=500,
        blank=True,
        help_text="Start of the last response body.",
    )
    error = models.TextField("last error", blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True, db_index=True)
    last_attempt_at = models.DateTimeField("last attempt", null=True, blank=True)
    delivered_at = models.DateTimeField("delivered", null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event} to {self.endpoint_id} ({self.status})"
