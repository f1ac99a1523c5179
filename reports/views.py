from django.http import FileResponse, Http404
from rest_framework import generics

from assessments.permissions import organisation_of
from jobs.views import JobSubmissionView

from . import services
from .models import Report
from .serializers import (
    ReportBatchSubmitSerializer,
    ReportSerializer,
    ReportSubmitSerializer,
)


def pdf_response(report):
    """Send a report's stored PDF as a download named after the student."""
    return FileResponse(
        report.pdf.open("rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"report-{report.student.external_id}-{report.report_type}.pdf",
    )


class ReportSubmitView(JobSubmissionView):
    """Submit one student's report; answers 202 with the job."""

    serializer_class = ReportSubmitSerializer

    def perform_submit(self, data, *, organisation, user, idempotency):
        return services.submit_report(
            organisation=organisation,
            student=data["student"],
            assessment=data["assessment"],
            report_type=data["report_type"],
            priority=data["priority"],
            notify_email=data.get("notify_email", ""),
            user=user,
            idempotency=idempotency,
        )


class ReportBatchSubmitView(JobSubmissionView):
    """Submit a batch of reports as one job with a member per student."""

    serializer_class = ReportBatchSubmitSerializer

    def perform_submit(self, data, *, organisation, user, idempotency):
        return services.submit_batch(
            organisation=organisation,
            assessment=data["assessment"],
            students=data["students"],
            report_type=data["report_type"],
            priority=data["priority"],
            user=user,
            idempotency=idempotency,
        )


class OrganisationReportsMixin:
    def get_queryset(self):
        return Report.objects.filter(
            organisation=organisation_of(self.request.user)
        ).select_related("student", "assessment")


class ReportListView(OrganisationReportsMixin, generics.ListAPIView):
    serializer_class = ReportSerializer


class ReportDetailView(OrganisationReportsMixin, generics.RetrieveAPIView):
    serializer_class = ReportSerializer


class ReportPdfView(OrganisationReportsMixin, generics.GenericAPIView):
    """Download a finished report's PDF."""

    def get(self, request, pk):
        report = self.get_object()
        if report.status != Report.Status.SUCCEEDED or not report.pdf:
            raise Http404("The report has no PDF yet.")
        return pdf_response(report)


def admin_report_pdf(request, pk):
    """Let staff download any report's PDF from the admin."""
    from django.contrib.admin.views.decorators import staff_member_required
    from django.shortcuts import get_object_or_404

    @staff_member_required
    def view(request):
        report = get_object_or_404(Report, pk=pk, status=Report.Status.SUCCEEDED)
        if not report.pdf:
            raise Http404("The report has no PDF.")
        return pdf_response(report)

    return view(request)
