"""Shared assessment data: organisations, students, items and responses."""

import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value):
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone name.")


class Organisation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField("name", max_length=200)
    slug = models.SlugField(
        "slug", max_length=64, unique=True, help_text="Short stable name for commands."
    )
    timezone = models.CharField(
        "time zone",
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="IANA name; local-time schedules fire at this zone's wall clock.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """Ties a user to the one organisation whose data they may see."""

    class Role(models.TextChoices):
        TEACHER = "teacher", "Teacher"
        ADMIN = "admin", "Organisation administrator"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.TEACHER)

    def __str__(self):
        return f"{self.user} @ {self.organisation}"


class Student(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="students"
    )
    external_id = models.CharField(
        "external id", max_length=64, help_text="The school's identifier."
    )
    name = models.CharField("name", max_length=200, blank=True)
    email = models.EmailField("e-mail", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                name="student_unique_external_id",
            )
        ]

    def __str__(self):
        return self.external_id


class Item(models.Model):
    """One question of an organisation's item bank."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="items"
    )
    code = models.CharField("code", max_length=64)
    text = models.TextField("text", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "code"], name="item_unique_code"
            )
        ]

    def __str__(self):
        return self.code


class Assessment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="assessments"
    )
    code = models.CharField("code", max_length=64)
    name = models.CharField("name", max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "code"], name="assessment_unique_code"
            )
        ]

    def __str__(self):
        return self.name


class Response(models.Model):
    """A student's answer to one item during one assessment."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="responses"
    )
    assessment = models.ForeignKey(
        Assessment, on_delete=models.CASCADE, related_name="responses"
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="responses")
    correct = models.BooleanField("correct")
    answered_at = models.DateTimeField("answered at")
    position = models.PositiveIntegerField(
        "position", help_text="Order of the item within the student's test, from 1."
    )

    class Meta:
        ordering = ["student", "assessment", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "assessment", "position"],
                name="response_unique_position",
            ),
            models.UniqueConstraint(
                fields=["student", "assessment", "item"], name="response_unique_item"
            ),
        ]
        indexes = [models.Index(fields=["organisation", "answered_at"])]

    def __str__(self):
        return f"{self.student_id}/{self.item_id}={int(self.correct)}"
