"""API-wide pieces: error handling, the request parser, the students list."""

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.views import exception_handler as drf_exception_handler

from assessments.models import Student
from assessments.permissions import organisation_of
from jobs.pagination import CheckedCursorPagination
from jobs.parsers import BodyTooLarge


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        detail = response.data.get("detail")
        if detail is not None and "code" not in response.data:
            response.data["code"] = getattr(detail, "code", "error")
    return response


class StudentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Student
        fields = ["id", "external_id", "name", "created_at"]
        read_only_fields = fields


class StudentPagination(CheckedCursorPagination):
    ordering = "external_id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class StudentListView(generics.ListAPIView):
    """The organisation's students, to pick ids for submissions."""

    serializer_class = StudentSerializer
    pagination_class = StudentPagination

    def get_queryset(self):
        return Student.objects.filter(
            organisation=organisation_of(self.request.user)
        ).only("id", "external_id", "name", "created_at")


class ReportPdfViewSchema(OpenApiViewExtension):
    """Describe the PDF download, which has no serializer."""

    target_class = "reports.views.ReportPdfView"

    def view_replacement(self):
        class Fixed(self.target_class):
            @extend_schema(
                responses={
                    (200, "application/pdf"): OpenApiResponse(
                        OpenApiTypes.BINARY, description="The report's PDF."
                    ),
                    404: OpenApiResponse(description="No such report, or no PDF yet."),
                }
            )
            def get(self, request, pk):
                return super().get(request, pk)

        return Fixed
