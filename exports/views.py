"""Export endpoints: submit an export job, download its file."""

from django.http import FileResponse, Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from assessments.permissions import organisation_of
from jobs.views import JobSubmissionView

from . import services
from .models import Export
from .serializers import ExportSubmitSerializer

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportSubmitView(JobSubmissionView):
    """Submit an export; answers 202 with the job, whose result links the file."""

    serializer_class = ExportSubmitSerializer

    def perform_submit(self, data, *, organisation, user, idempotency):
        return services.submit_export(
            organisation=organisation,
            dataset=data["dataset"],
            file_format=data["format"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            priority=data["priority"],
            user=user,
            idempotency=idempotency,
        )


class ExportDownloadView(APIView):
    """Download a finished export of the caller's organisation."""

    @extend_schema(
        request=None,
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, CONTENT_TYPES["xlsx"]): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such export in your organisation."),
            409: OpenApiResponse(description="The file is not written yet."),
            410: OpenApiResponse(description="The export has expired."),
        },
    )
    def get(self, request, pk):
        export = Export.objects.filter(
            pk=pk, organisation=organisation_of(request.user)
        ).first()
        if export is None:
            raise Http404
        if export.expires_at <= timezone.now():
            return Response(
                {"detail": "The export has expired.", "code": "export_expired"},
                status=status.HTTP_410_GONE,
            )
        if not export.file:
            return Response(
                {"detail": "The export is not ready yet.", "code": "export_not_ready"},
                status=status.HTTP_409_CONFLICT,
            )
        return FileResponse(
            export.file.open("rb"),
            as_attachment=True,
            filename=export.filename,
            content_type=CONTENT_TYPES[export.file_format],
        )
