from django.contrib import admin

from .models import DailyAssessmentStats


@admin.register(DailyAssessmentStats)
class DailyAssessmentStatsAdmin(admin.ModelAdmin):
    list_display = [
        "day",
        "organisation",
        "assessment",
        "students_assessed",
        "responses",
        "accuracy",
        "mean_ability",
    ]
    list_filter = ["organisation", "day"]
    date_hierarchy = "day"
    list_select_related = ["organisation", "assessment"]
    readonly_fields = ["computed_at"]
