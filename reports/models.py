"""Per-student PDF reports."""

import uuid

from django.db import models


class ReportType(models.TextChoices):
    """The fixed list of report templates (templates/reports/<value>.qmd)."""

    COMPREHENSIVE = "comprehensive", "Comprehensive"
    SUMMARY = "summary", "One-page summary"


def report_upload_to(report, filename):
    # Paths are built from ids only, never from anything a client sent.
    return f"reports/{report.organisation_id}/{report.pk}.pdf"


class Report(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Rendering"
        SUCCEEDED = "succeeded", "Ready"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "assessments.Organisation", on_delete=models.CASCADE, related_name="reports"
    )
    student = models.ForeignKey(
        "assessments.Student", on_delete=models.CASCADE, related_name="reports"
    )
    assessment = models.ForeignKey(
        "assessments.Assessment", on_delete=models.CASCADE, related_name="reports"
    )
    report_type = models.CharField(
        "type",
        max_length=32,
        choices=ReportType.choices,
        default=ReportType.COMPREHENSIVE,
    )
    status = models.CharField(
        "status", max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    job = models.ForeignKey(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
    )
    pdf = models.FileField("PDF", upload_to=report_upload_to, blank=True)
    pdf_size = models.PositiveIntegerField("PDF size (bytes)", null=True, blank=True)
    pdf_sha256 = models.CharField("PDF SHA-256", max_length=64, blank=True)
    engine = models.CharField(
        "engine", max_length=16, blank=True, help_text="builtin or quarto."
    )
    template_version = models.CharField(
        "template version",
        max_length=100,
        blank=True,
        help_text="Engine and hash of the template and renderer code.",
    )
    data_hash = models.CharField(
        "data hash", max_length=64, blank=True, help_text="SHA-256 of the report data."
    )
    reused = models.BooleanField(
        "reused", default=False, help_text="The PDF of an identical earlier report."
    )
    render_seconds = models.FloatField("render time (s)", null=True, blank=True)
    error = models.TextField("error", blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    finished_at = models.DateTimeField("finished", null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["organisation", "report_type", "template_version", "data_hash"]
            )
        ]

    def __str__(self):
        return f"{self.get_report_type_display()} report for {self.student}"
