from django.contrib import admin

from .models import Assessment, Item, Membership, Organisation, Response, Student


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role"]
    list_filter = ["role", "organisation"]
    search_fields = ["user__username", "user__email", "organisation__name"]
    list_select_related = ["user", "organisation"]
    autocomplete_fields = ["user", "organisation"]


@admin.register(Student)
class StudentAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "organisation", "created_at"]
    list_filter = ["organisation"]
    search_fields = ["external_id", "name", "email"]
    list_select_related = ["organisation"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["code", "organisation", "created_at"]
    list_filter = ["organisation"]
    search_fields = ["code", "text"]
    list_select_related = ["organisation"]


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "organisation", "created_at"]
    list_filter = ["organisation"]
    search_fields = ["code", "name"]
    list_select_related = ["organisation"]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = [
        "student",
        "assessment",
        "position",
        "item",
        "correct",
        "answered_at",
    ]
    list_filter = ["correct", "organisation", "assessment"]
    search_fields = ["student__external_id", "item__code"]
    list_select_related = ["student", "assessment", "item"]
    raw_id_fields = ["student", "item", "assessment"]
    date_hierarchy = "answered_at"
    # Counting millions of responses on every page view is slow.
    show_full_result_count = False
