from django.contrib import admin

from .models import Export


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "organisation",
        "dataset",
        "file_format",
        "rows",
        "size",
        "created_at",
        "expires_at",
    ]
    list_filter = ["dataset", "file_format", "organisation"]
    search_fields = ["id", "organisation__name"]
    list_select_related = ["organisation"]
    readonly_fields = ["job", "file", "rows", "size", "finished_at", "created_at"]
