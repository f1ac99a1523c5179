"""Exports: one file of tabular data per export job."""

import uuid

from django.db import models


def export_upload_to(export, filename):
    # Paths are built from ids only, never from anything a client sent.
    return f"exports/{export.organisation_id}/{export.pk}.{export.file_format}"


class Export(models.Model):
    class Dataset(models.TextChoices):
        RESPONSES = "responses", "Responses"
        ABILITIES = "abilities", "Ability estimates (latest calibration)"
        ITEM_PARAMETERS = "item_parameters", "Item parameters (latest calibration)"
        REPORTS = "reports", "Reports"

    class Format(models.TextChoices):
        CSV = "csv", "CSV (UTF-8 with BOM)"
        XLSX = "xlsx", "Excel workbook"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "assessments.Organisation",
        on_delete=models.CASCADE,
        related_name="exports",
        verbose_name="organisation",
    )
    job = models.OneToOneField(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="export",
        verbose_name="job",
        help_text="The job that writes the file.",
    )
    dataset = models.CharField(
        "dataset", max_length=32, choices=Dataset.choices, help_text="What is exported."
    )
    file_format = models.CharField(
        "format", max_length=8, choices=Format.choices, help_text="csv or xlsx."
    )
    date_from = models.DateField(
        "from", null=True, blank=True, help_text="First day included (UTC)."
    )
    date_to = models.DateField(
        "to", null=True, blank=True, help_text="Last day included (UTC)."
    )
    file = models.FileField(
        "file", upload_to=export_upload_to, blank=True, max_length=255
    )
    rows = models.PositiveBigIntegerField(
        "rows", null=True, blank=True, help_text="Data rows written (no header)."
    )
    size = models.PositiveBigIntegerField(
        "size (bytes)", null=True, blank=True, help_text="Size of the stored file."
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    finished_at = models.DateTimeField("finished", null=True, blank=True)
    expires_at = models.DateTimeField(
        "expires",
        db_index=True,
        help_text="After this the row and its file are deleted by the clean-up.",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "export"

    def __str__(self):
        return f"{self.get_dataset_display()} {self.file_format} export {self.pk}"

    @property
    def filename(self):
        return f"{self.dataset}-{self.created_at:%Y%m%d-%H%M%S}.{self.file_format}"
