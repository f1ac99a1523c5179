from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from calibration import views as calibration_views
from dreamseed import api as api_views
from exports import views as export_views
from jobs import views as job_views
from monitoring import views as monitoring_views
from reports import views as report_views

api = "api/v1/"

urlpatterns = [
    path(
        "admin/reports/<uuid:pk>/pdf/",
        report_views.admin_report_pdf,
        name="admin-report-pdf",
    ),
    path("admin/", admin.site.urls),
    # Sign-in for the browsable pages (Swagger UI) by any member, not only staff.
    path("api-auth/", include("rest_framework.urls")),
    path("metrics", monitoring_views.metrics_view, name="metrics"),
    path("health/", monitoring_views.health_view, name="health"),
    path(f"{api}jobs/", job_views.JobListView.as_view(), name="job-list"),
    path(
        f"{api}jobs/dead-letter/",
        job_views.DeadLetterListView.as_view(),
        name="job-dead-letter",
    ),
    path(f"{api}jobs/<uuid:pk>/", job_views.JobDetailView.as_view(), name="job-detail"),
    path(
        f"{api}jobs/<uuid:pk>/cancel/",
        job_views.JobCancelView.as_view(),
        name="job-cancel",
    ),
    path(f"{api}reports/", report_views.ReportListView.as_view(), name="report-list"),
    path(
        f"{api}reports/submit/",
        report_views.ReportSubmitView.as_view(),
        name="report-submit",
    ),
    path(
        f"{api}reports/batch/",
        report_views.ReportBatchSubmitView.as_view(),
        name="report-batch",
    ),
    path(
        f"{api}reports/<uuid:pk>/",
        report_views.ReportDetailView.as_view(),
        name="report-detail",
    ),
    path(
        f"{api}reports/<uuid:pk>/pdf/",
        report_views.ReportPdfView.as_view(),
        name="report-pdf",
    ),
    path(
        f"{api}calibrations/",
        calibration_views.CalibrationSubmitView.as_view(),
        name="calibration-submit",
    ),
    path(
        f"{api}calibrations/<uuid:pk>/",
        calibration_views.CalibrationRunDetailView.as_view(),
        name="calibration-run-detail",
    ),
    path(f"{api}students/", api_views.StudentListView.as_view(), name="student-list"),
    path(
        f"{api}assessments/",
        api_views.AssessmentListView.as_view(),
        name="assessment-list",
    ),
    path(
        f"{api}exports/",
        export_views.ExportSubmitView.as_view(),
        name="export-submit",
    ),
    path(
        f"{api}exports/<uuid:pk>/download/",
        export_views.ExportDownloadView.as_view(),
        name="export-download",
    ),
    path(api, include("notifications.urls")),
    path(f"{api}schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        f"{api}docs/",
        api_views.SwaggerView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    # Last: any other path under the API answers a JSON 404.
    path(
        f"{api}<path:unknown>",
        api_views.UnknownEndpointView.as_view(),
        name="api-unknown",
    ),
]
