"""Staff's view of jobs: find them, requeue the dead letters, cancel."""

from django.contrib import admin, messages

from . import services
from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "organisation",
        "priority",
        "attempts",
        "dead_letter",
        "error_code",
        "created_at",
        "finished_at",
    ]
    list_filter = ["kind", "status", "dead_letter", "created_at"]
    search_fields = ["=id", "organisation__name", "error", "error_code"]
    list_select_related = ["organisation"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["requeue", "cancel"]
    readonly_fields = [
        field.name for field in Job._meta.fields if field.name not in ("priority",)
    ]
    # The change list must not count a table of millions of rows.
    show_full_result_count = False

    @admin.action(description="Requeue the selected failed or cancelled jobs")
    def requeue(self, request, queryset):
        requeued = skipped = 0
        for job in queryset.select_related(None).only("id", "status"):
            if job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
                services.requeue_job(job)
                requeued += 1
            else:
                skipped += 1
        if requeued:
            self.message_user(request, f"{requeued} job(s) requeued.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} job(s) skipped: only failed or cancelled jobs can be "
                "requeued.",
                messages.WARNING,
            )

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel(self, request, queryset):
        cancelled = asked = skipped = 0
        for job in queryset.select_related(None).only("id", "status"):
            if job.is_terminal:
                skipped += 1
                continue
            job = services.cancel_job(job)
            if job.status == Job.Status.CANCELLED:
                cancelled += 1
            else:
                asked += 1
        if cancelled:
            self.message_user(
                request, f"{cancelled} job(s) cancelled.", messages.SUCCESS
            )
        if asked:
            self.message_user(
                request,
                f"{asked} running job(s) asked to stop at their next step.",
                messages.INFO,
            )
        if skipped:
            self.message_user(
                request, f"{skipped} job(s) had already ended.", messages.WARNING
            )
