"""Notification endpoints: bulk e-mail and webhook registration."""

from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from assessments.models import Membership
from assessments.permissions import organisation_of
from jobs.views import JobSubmissionView

from . import services
from .models import EmailDelivery, WebhookDelivery, WebhookEndpoint
from .serializers import (
    BulkEmailSerializer,
    EmailDeliverySerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
)


def check_organisation_admin(request):
    membership = request.user.membership
    if membership.role != Membership.Role.ADMIN and not request.user.is_staff:
        raise PermissionDenied(
            "Only an administrator of the organisation may do this.",
            code="not_organisation_admin",
        )


class BulkEmailView(JobSubmissionView):
    """Mail the organisation's members; answers 202 with the job."""

    serializer_class = BulkEmailSerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        check_organisation_admin(request)

    def perform_submit(self, data, *, organisation, user, idempotency):
        return services.submit_bulk_email(
            organisation=organisation,
            subject=data["subject"],
            body=data["body"],
            audience=data["audience"],
            priority=data["priority"],
            user=user,
            idempotency=idempotency,
        )


class OrganisationWebhooksMixin:
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        check_organisation_admin(request)

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(
            organisation=organisation_of(self.request.user)
        )


class WebhookEndpointListView(OrganisationWebhooksMixin, generics.ListCreateAPIView):
    """List the organisation's webhook endpoints, or register one."""

    serializer_class = WebhookEndpointSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save(organisation=organisation_of(request.user))
        data = WebhookEndpointCreatedSerializer(endpoint).data
        return Response(data, status=201)


class WebhookEndpointDetailView(
    OrganisationWebhooksMixin, generics.RetrieveUpdateDestroyAPIView
):
    serializer_class = WebhookEndpointSerializer


class WebhookDeliveryListView(OrganisationWebhooksMixin, generics.ListAPIView):
    """Deliveries to one endpoint, newest first."""

    serializer_class = WebhookDeliverySerializer

    def get_queryset(self):
        endpoints = super().get_queryset()
        return WebhookDelivery.objects.filter(
            endpoint__in=endpoints, endpoint_id=self.kwargs["pk"]
        ).order_by("-created_at")


class EmailDeliveryListView(generics.ListAPIView):
    """Each recipient of one of the organisation's e-mail jobs, and its outcome."""

    serializer_class = EmailDeliverySerializer

    def get_queryset(self):
        return EmailDelivery.objects.filter(
            job_id=self.kwargs["pk"],
            job__organisation=organisation_of(self.request.user),
        ).order_by("-created_at", "-id")
