"""API-wide pieces: error handling, the students and assessments lists."""

import logging

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connection
from django.urls import reverse
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotAuthenticated, NotFound
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from assessments.models import Assessment, Student
from assessments.permissions import organisation_of
from jobs.pagination import CheckedCursorPagination
from jobs.parsers import BodyTooLarge

logger = logging.getLogger(__name__)


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database cannot be reached for now; try again shortly."
    default_code = "database_unavailable"


# Seconds a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 5


# SQLSTATE classes of a server that is down, starting, shutting down, out of
# connections or resources: 08 connection exception, 53 insufficient
# resources, 57P01-57P03 shut down or not yet accepting connections.
UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")


def database_unavailable(exc):
    """Whether ``exc`` says the database cannot be reached, not that a query is bad.

    psycopg also raises OperationalError for queries the server refuses while
    it is up (beyond a limit of PostgreSQL's, say), and SQLite for a missing
    table or column: such faults are the code's, and retrying never helps.
    """
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    raw = connection.connection
    if raw is None or getattr(raw, "closed", False) or getattr(raw, "broken", False):
        return True  # could not connect, or the server dropped the connection
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    if sqlstate.startswith(UNAVAILABLE_SQLSTATES):
        return True
    # SQLite (the embedded database): another process holds the write lock
    # for longer than the busy timeout.
    return connection.vendor == "sqlite" and "database is locked" in str(exc)


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge()
    if database_unavailable(exc):
        # Down, restarting or out of connections: a JSON answer the client
        # can act on, not Django's HTML error page. The cause goes to the log.
        logger.error(
            "%s %s: database unavailable: %s: %s",
            context["request"].method,
            context["request"].path,
            type(exc).__name__,
            exc,
        )
        response = drf_exception_handler(DatabaseUnavailable(), context)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response.data["code"] = DatabaseUnavailable.default_code
        return response
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


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter(
                "external_id", description="Only the student with this school id."
            )
        ]
    )
)
class StudentListView(generics.ListAPIView):
    """The organisation's students, to pick ids for submissions."""

    serializer_class = StudentSerializer
    pagination_class = StudentPagination

    def get_queryset(self):
        students = Student.objects.filter(
            organisation=organisation_of(self.request.user)
        ).only("id", "external_id", "name", "created_at")
        external_id = self.request.query_params.get("external_id")
        if external_id is not None:
            # PostgreSQL refuses a NUL in text, so no student can have one.
            if "\x00" in external_id:
                return students.none()
            students = students.filter(external_id=external_id)
        return students


class AssessmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assessment
        fields = ["id", "code", "name", "created_at"]
        read_only_fields = fields


class AssessmentPagination(CheckedCursorPagination):
    ordering = "code"
    page_size = 100


class AssessmentListView(generics.ListAPIView):
    """The organisation's assessments, to pick ids for submissions."""

    serializer_class = AssessmentSerializer
    pagination_class = AssessmentPagination

    def get_queryset(self):
        return Assessment.objects.filter(
            organisation=organisation_of(self.request.user)
        )


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI; a browser that has not signed in is sent to sign in.

    Any member of an organisation may sign in (at ``/api-auth/login/``), not
    only staff; calls tried from the page then run as that member.
    """

    def handle_exception(self, exc):
        if isinstance(exc, NotAuthenticated) and not self.request.user.is_authenticated:
            return redirect_to_login(
                self.request.get_full_path(), reverse("rest_framework:login")
            )
        return super().handle_exception(exc)


@extend_schema(exclude=True)
class UnknownEndpointView(APIView):
    """Answer unknown API paths in JSON, after authentication like the rest."""

    def dispatch_unknown(self, request, *args, **kwargs):
        raise NotFound("No such API endpoint; see /api/v1/docs/.", code="no_endpoint")

    get = post = put = patch = delete = dispatch_unknown


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
