"""Daily figures per organisation and assessment, computed each night."""

from django.db import models


class DailyAssessmentStats(models.Model):
    organisation = models.ForeignKey(
        "assessments.Organisation",
        on_delete=models.CASCADE,
        related_name="daily_stats",
        verbose_name="organisation",
    )
    assessment = models.ForeignKey(
        "assessments.Assessment",
        on_delete=models.CASCADE,
        related_name="daily_stats",
        verbose_name="assessment",
    )
    day = models.DateField("day", help_text="UTC calendar day of the responses.")
    students_assessed = models.PositiveIntegerField(
        "students assessed", help_text="Distinct students who answered that day."
    )
    responses = models.PositiveIntegerField(
        "responses", help_text="Answers given that day."
    )
    accuracy = models.FloatField(
        "accuracy", help_text="Proportion of that day's answers that were correct."
    )
    mean_ability = models.FloatField(
        "mean ability",
        null=True,
        blank=True,
        help_text="Mean theta of those students in the organisation's latest "
        "successful calibration; empty when there is none.",
    )
    calibration_run = models.ForeignKey(
        "calibration.CalibrationRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="calibration run",
        help_text="The run mean ability was read from.",
    )
    computed_at = models.DateTimeField("computed", auto_now=True)

    class Meta:
        ordering = ["-day", "organisation", "assessment"]
        verbose_name = "daily assessment statistics"
        verbose_name_plural = "daily assessment statistics"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "assessment", "day"],
                name="daily_stats_unique_day",
            )
        ]

    def __str__(self):
        return f"{self.assessment} on {self.day}"
