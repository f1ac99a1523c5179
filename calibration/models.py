"""Calibration runs and what they estimate."""

import uuid

from django.db import models


class CalibrationRun(models.Model):
    class Method(models.TextChoices):
        JMLE = "jmle", "Joint maximum likelihood"
        MML = "mml", "Marginal maximum likelihood (EM)"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "assessments.Organisation",
        on_delete=models.CASCADE,
        related_name="calibration_runs",
    )
    job = models.OneToOneField(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calibration_run",
        help_text="The job that produced this run; a repeated job replaces its run.",
    )
    method = models.CharField("method", max_length=8, choices=Method.choices)
    model = models.CharField("model", max_length=8, default="2pl")
    status = models.CharField(
        "status", max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    n_persons = models.PositiveIntegerField("persons", default=0)
    n_items = models.PositiveIntegerField("items", default=0)
    n_responses = models.PositiveBigIntegerField("responses", default=0)
    settings = models.JSONField("settings", default=dict, blank=True)
    converged = models.BooleanField("converged", null=True)
    n_iterations = models.PositiveIntegerField("iterations", null=True, blank=True)
    log_likelihood = models.FloatField("log-likelihood", null=True, blank=True)
    read_seconds = models.FloatField("read time (s)", null=True, blank=True)
    fit_seconds = models.FloatField("fit time (s)", null=True, blank=True)
    diagnostics = models.JSONField("diagnostics", default=dict, blank=True)
    error = models.TextField("error", blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    finished_at = models.DateTimeField("finished", null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "finished_at"
        indexes = [models.Index(fields=["organisation", "status", "-finished_at"])]

    def __str__(self):
        return f"{self.get_method_display()} run {self.id} ({self.status})"


class ItemParameter(models.Model):
    """2PL parameters of one item in one run (guessing fixed at 0)."""

    run = models.ForeignKey(
        CalibrationRun, on_delete=models.CASCADE, related_name="items"
    )
    item = models.ForeignKey(
        "assessments.Item", on_delete=models.CASCADE, related_name="parameters"
    )
    discrimination = models.FloatField("discrimination (a)")
    difficulty = models.FloatField("difficulty (b)")
    guessing = models.FloatField("guessing (c)", default=0.0)
    se_discrimination = models.FloatField("SE of a", null=True, blank=True)
    se_difficulty = models.FloatField("SE of b", null=True, blank=True)
    n_responses = models.PositiveIntegerField("responses", default=0)
    p_value = models.FloatField("proportion correct", null=True, blank=True)
    item_total_correlation = models.FloatField("item-total r", null=True, blank=True)
    infit = models.FloatField("infit MNSQ", null=True, blank=True)
    outfit = models.FloatField("outfit MNSQ", null=True, blank=True)
    flag = models.CharField("flag", max_length=64, blank=True)

    class Meta:
        ordering = ["item__code"]
        constraints = [
            models.UniqueConstraint(fields=["run", "item"], name="itemparameter_unique")
        ]

    def __str__(self):
        return f"{self.item} a={self.discrimination:.3f} b={self.difficulty:.3f}"


class AbilityEstimate(models.Model):
    run = models.ForeignKey(
        CalibrationRun, on_delete=models.CASCADE, related_name="abilities"
    )
    student = models.ForeignKey(
        "assessments.Student", on_delete=models.CASCADE, related_name="abilities"
    )
    theta = models.FloatField("ability (theta)")
    se = models.FloatField("standard error", null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "student"], name="ability_unique")
        ]

    def __str__(self):
        return f"{self.student} theta={self.theta:.3f}"
