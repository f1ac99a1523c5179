"""E-mail deliveries, one row per recipient of a job."""

from django.db import models


class EmailDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

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
            models.UniqueConstraint(fields=["job", "recipient"], name="email_once_per_job")
        ]

    def __str__(self):
        return f"{self.recipient} ({self.status})"
