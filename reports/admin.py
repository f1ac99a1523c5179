from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = [
        "student",
        "assessment",
        "report_type",
        "status",
        "engine",
        "reused",
        "render_seconds",
        "pdf_link",
        "created_at",
    ]
    list_filter = ["status", "report_type", "engine", "reused", "organisation"]
    search_fields = ["student__external_id", "student__name", "assessment__code"]
    list_select_related = ["student", "assessment"]
    date_hierarchy = "created_at"
    actions = ["render_again"]
    readonly_fields = [f.name for f in Report._meta.fields] + ["pdf_link"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="PDF")
    def pdf_link(self, report):
        if report.status != Report.Status.SUCCEEDED or not report.pdf:
            return "–"
        return format_html(
            '<a href="{}">download</a>', reverse("admin-report-pdf", args=[report.pk])
        )

    @admin.action(description="Render these reports again")
    def render_again(self, request, queryset):
        with transaction.atomic():
            for report in queryset.select_related(
                "organisation", "student", "assessment"
            ):
                services.submit_report(
                    organisation=report.organisation,
                    student=report.student,
                    assessment=report.assessment,
                    report_type=report.report_type,
                    user=request.user,
                )
        self.message_user(
            request, f"{queryset.count()} report job(s) queued.", level=messages.SUCCESS
        )
