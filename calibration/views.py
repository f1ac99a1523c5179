from rest_framework import generics

from assessments.permissions import organisation_of
from jobs.views import JobSubmissionView

from . import services
from .models import CalibrationRun
from .serializers import CalibrationRunSerializer, CalibrationSubmitSerializer


class CalibrationSubmitView(JobSubmissionView):
    """Submit a calibration of the organisation's item bank."""

    serializer_class = CalibrationSubmitSerializer

    def perform_submit(self, data, *, organisation, user, idempotency):
        options = {k: data[k] for k in ("method", "max_iter", "tol") if k in data}
        return services.submit_calibration(
            organisation,
            user=user,
            priority=data["priority"],
            idempotency=idempotency,
            **options,
        )


class CalibrationRunDetailView(generics.RetrieveAPIView):
    """A calibration run with its item parameters and diagnostics."""

    serializer_class = CalibrationRunSerializer

    def get_queryset(self):
        return CalibrationRun.objects.filter(
            organisation=organisation_of(self.request.user)
        ).prefetch_related("items__item")
