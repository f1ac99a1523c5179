from django.conf import settings
from rest_framework import serializers

from assessments.models import Assessment, Student
from jobs.fields import (
    OrganisationObjectField,
    OrganisationObjectListField,
    OrganisationObjectsSerializer,
    PriorityField,
)

from .models import Report, ReportType


class ReportSubmitSerializer(OrganisationObjectsSerializer):
    student = OrganisationObjectField(Student)
    assessment = OrganisationObjectField(Assessment)
    report_type = serializers.ChoiceField(
        choices=ReportType.choices, default=ReportType.COMPREHENSIVE
    )
    priority = PriorityField()
    notify_email = serializers.EmailField(
        required=False,
        allow_blank=True,
        # The longest address an EmailDelivery row (and RFC 5321) holds.
        max_length=254,
        help_text="Send a 'report ready' e-mail here once the PDF exists.",
    )


class ReportBatchSubmitSerializer(OrganisationObjectsSerializer):
    assessment = OrganisationObjectField(Assessment)
    students = OrganisationObjectListField(
        Student,
        max_length_setting="JOBS_BATCH_MAX_SIZE",
        required=False,
        allow_empty=False,
        help_text="Students to report on; every student who took the assessment "
        "when left out.",
    )
    report_type = serializers.ChoiceField(
        choices=ReportType.choices, default=ReportType.COMPREHENSIVE
    )
    priority = PriorityField()

    def validate(self, data):
        students = data.get("students")
        if students is None:
            students = list(
                Student.objects.filter(
                    responses__assessment=data["assessment"]
                ).distinct()
            )
            if not students:
                raise serializers.ValidationError(
                    {"assessment": ["No student has taken this assessment."]}
                )
        limit = settings.JOBS_BATCH_MAX_SIZE
        if len(students) > limit:
            raise serializers.ValidationError(
                {
                    "students": [
                        f"At most {limit} students per batch, not {len(students)}."
                    ]
                }
            )
        data["students"] = students
        return data


class ReportSerializer(serializers.ModelSerializer):
    student = serializers.SlugRelatedField(slug_field="external_id", read_only=True)
    assessment = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Report
        fields = [
            "id",
            "student",
            "assessment",
            "report_type",
            "status",
            "job",
            "pdf_size",
            "pdf_sha256",
            "engine",
            "reused",
            "render_seconds",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields
