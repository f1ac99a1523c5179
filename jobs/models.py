"""The job record: the source of truth that a piece of work was asked for."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Job(models.Model):
    class Kind(models.TextChoices):
        REPORT = "report", "Report"
        REPORT_BATCH = "report_batch", "Batch of reports"
        CALIBRATION = "calibration", "Calibration"
        EXPORT = "export", "Export"
        EMAIL = "email", "E-mail"
        BULK_EMAIL = "bulk_email", "Bulk e-mail"
        PROBE = "probe", "Diagnostic probe"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "assessments.Organisation", on_delete=models.CASCADE, related_name="jobs"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField("kind", max_length=32, choices=Kind.choices)
    params = models.JSONField(
        "parameters", default=dict, blank=True, help_text="JSON-safe options."
    )
    priority = models.PositiveSmallIntegerField(
        "priority",
        default=5,
        validators=[MinValueValidator(0), MaxValueValidator(9)],
        help_text="0-9, higher is more urgent.",
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
        help_text="The batch this job belongs to, or the job it follows.",
    )
    status = models.CharField(
        "status", max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    progress_percent = models.PositiveSmallIntegerField("progress (%)", default=0)
    progress_step = models.CharField("step", max_length=64, blank=True)
    result = models.JSONField("result", null=True, blank=True)
    error = models.TextField("error", blank=True)
    error_code = models.CharField("error code", max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(
        "attempts", default=0, help_text="Times a worker started this job."
    )
    max_attempts = models.PositiveSmallIntegerField("max attempts", default=3)
    dead_letter = models.BooleanField(
        "dead letter",
        default=False,
        help_text="Failed after its retries ran out; can be requeued.",
    )
    cancel_requested = models.BooleanField(
        "cancel requested",
        default=False,
        help_text="Someone asked the job to stop; a running one does at its next step.",
    )
    celery_task_id = models.CharField("Celery task id", max_length=64, blank=True)
    claimed_by = models.CharField(
        "claimed by", max_length=200, blank=True, help_text="host:pid of the worker."
    )
    publish_count = models.PositiveSmallIntegerField("times published", default=0)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True, db_index=True)
    published_at = models.DateTimeField("published", null=True, blank=True)
    started_at = models.DateTimeField("started", null=True, blank=True)
    heartbeat_at = models.DateTimeField("heartbeat", null=True, blank=True)
    lease_expires_at = models.DateTimeField(
        "lease expires",
        null=True,
        blank=True,
        help_text="A running job whose lease has expired is presumed lost.",
    )
    finished_at = models.DateTimeField("finished", null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "submitted_by", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="job_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__lte=9), name="job_priority_range"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "published_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["organisation", "-created_at"]),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.id} ({self.status})"

    @property
    def is_terminal(self):
        return self.status in self.TERMINAL
