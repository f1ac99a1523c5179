"""Notification endpoints: bulk e-mail and webhook registration."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from assessments.models import Membership
from assessments.permissions import organisation_of
from jobs.models import Job
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
    """Members see their organisation's webhooks; administrators change them.

    Another organisation's endpoint is a 404 for every method: the object is
    looked up before the administrator check.
    """

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(
            organisation=organisation_of(self.request.user)
        )


class WebhookEndpointListView(OrganisationWebhooksMixin, generics.ListCreateAPIView):
    """List the organisation's webhook endpoints, or register one."""

    serializer_class = WebhookEndpointSerializer

    @extend_schema(responses={201: WebhookEndpointCreatedSerializer})
    def post(self, request, *args, **kwargs):
        check_organisation_admin(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save(organisation=organisation_of(request.user))
        data = WebhookEndpointCreatedSerializer(endpoint).data
        return Response(data, status=201)


class WebhookEndpointDetailView(
    OrganisationWebhooksMixin, generics.RetrieveUpdateDestroyAPIView
):
    serializer_class = WebhookEndpointSerializer

    def perform_update(self, serializer):
        check_organisation_admin(self.request)
        serializer.save()

    def perform_destroy(self, instance):
        check_organisation_admin(self.request)
        instance.delete()


class WebhookDeliveryListView(OrganisationWebhooksMixin, generics.ListAPIView):
    """Deliveries to one endpoint, newest first."""

    serializer_class = WebhookDeliverySerializer

    def get_queryset(self):
        endpoint = get_object_or_404(super().get_queryset(), pk=self.kwargs["pk"])
        return WebhookDelivery.objects.filter(endpoint=endpoint)


class EmailDeliveryListView(generics.ListAPIView):
    """Each recipient of one of the organisation's e-mail jobs, and its outcome."""

    serializer_class = EmailDeliverySerializer

    def get_queryset(self):
        job = get_object_or_404(
            Job, pk=self.kwargs["pk"], organisation=organisation_of(self.request.user)
        )
        return EmailDelivery.objects.filter(job=job)
