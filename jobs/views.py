"""Job endpoints: read, list, cancel, dead letters; the base of submissions."""

import hashlib
import json
import logging
import uuid

from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from assessments.permissions import organisation_of

from . import services
from .models import Job
from .serializers import JobListSerializer, JobSerializer

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


class SubmissionThrottle(UserRateThrottle):
    """Submissions per user, at the rate of the "submissions" scope.

    DRF's throttles keep every request's time within the period in one cache
    entry, read and written whole on each request: at 200 submissions a
    second under a rate of 1,000,000/minute that entry held 12,000 times and
    cost more than the rest of the throttle. This one keeps a count per fixed
    window and weighs the previous window's count by how much of it still
    overlaps the sliding period, so its cost does not grow with the rate. The
    limit is approximate: a steady client gets the rate, but a burst across a
    window's edge can pass up to twice it in one sliding period. Like
    DRF's, the read and the write are not atomic: two requests at the same
    instant may be counted once.
    """

    scope = "submissions"

    def get_rate(self):
        # Read the rate when asked, not when the class was defined, so a
        # changed setting takes effect.
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        # The cache is the broker's Redis. Should it be down, the job can
        # still be recorded (the sweeper publishes it later), so a throttle
        # that cannot count lets the request through rather than fail it.
        try:
            return self.count_request(request, view)
        except Exception:
            logger.warning(
                "throttle cache unavailable; not throttling this request",
                exc_info=True,
            )
            return True

    def count_request(self, request, view):
        """Count the request in its window; return whether it is allowed."""
        self.retry_after = None
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True

        now = self.timer()
        window, elapsed = divmod(now, self.duration)
        current_key = f"{key}:{int(window)}"
        previous_key = f"{key}:{int(window) - 1}"
        counts = self.cache.get_many([previous_key, current_key])
        previous = counts.get(previous_key, 0)
        current = counts.get(current_key, 0)

        overlap = 1 - elapsed / self.duration
        if previous * overlap + current >= self.num_requests:
            self.retry_after = self._seconds_until_allowed(previous, current, elapsed)
            return False
        # Kept for two periods: it is the previous window during the next.
        self.cache.set(current_key, current + 1, 2 * self.duration)
        return True

    def _seconds_until_allowed(self, previous, current, elapsed):
        limit = self.num_requests
        if current >= limit:
            # Only once this window has become the previous one and has
            # slid out far enough.
            return self.duration - elapsed + self.duration * (1 - limit / current)
        # The previous window's weight falls below what is left of the limit.
        fraction = 1 - (limit - current) / previous
        return max(0.0, self.duration * fraction - elapsed)

    def wait(self):
        return self.retry_after


class OrganisationJobsMixin:
    def get_queryset(self):
        return Job.objects.filter(organisation=organisation_of(self.request.user))


@extend_schema(
    parameters=[
        OpenApiParameter("kind", enum=Job.Kind.values),
        OpenApiParameter("status", enum=Job.Status.values),
    ]
)
class JobListView(OrganisationJobsMixin, generics.ListAPIView):
    """List the organisation's jobs, newest first (a batch without its members)."""

    serializer_class = JobListSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        errors = {}
        for field, choices in (("kind", Job.Kind), ("status", Job.Status)):
            value = self.request.query_params.get(field)
            if value is None:
                continue
            if value not in choices.values:
                errors[field] = [
                    f"{value!r} is not one of: {', '.join(choices.values)}."
                ]
            else:
                queryset = queryset.filter(**{field: value})
        if errors:
            raise ValidationError(errors)
        return queryset


class JobDetailView(OrganisationJobsMixin, generics.RetrieveAPIView):
    """A job's status, progress, result and links."""

    serializer_class = JobSerializer


class JobCancelView(OrganisationJobsMixin, APIView):
    """Cancel a queued job, or stop a running one at its next step."""

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            409: OpenApiResponse(description="The job has already ended."),
        },
    )
    def post(self, request, pk):
        job = get_object_or_404(self.get_queryset(), pk=pk)
        if job.is_terminal:
            return Response(
                {
                    "detail": f"The job has already ended ({job.status}).",
                    "code": "job_finished",
                },
                status=status.HTTP_409_CONFLICT,
            )
        job = services.cancel_job(job)
        return Response(JobSerializer(job, context={"request": request}).data)


class DeadLetterListView(OrganisationJobsMixin, generics.ListAPIView):
    """Jobs that failed after all their retries."""

    serializer_class = JobListSerializer

    def get_queryset(self):
        return super().get_queryset().filter(dead_letter=True, status=Job.Status.FAILED)


def _canonical_ids(value):
    """A UUID string (or a list of them) in its usual form; anything else as is."""
    if isinstance(value, list):
        return [_canonical_ids(item) for item in value]
    if isinstance(value, str) and len(value) in (32, 36, 38):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    return value


def _names_objects(field):
    """Whether a field takes ids, which name the same object in any spelling.

    In any other field (an e-mail's subject, say) text that happens to spell a
    UUID is what the client wrote: another spelling is another request.
    """
    if isinstance(field, serializers.ListField):
        field = field.child
    return isinstance(field, serializers.UUIDField | serializers.RelatedField)


def _is_default(value, default):
    """Whether a value sent is a field's default itself (``"5"`` is not 5)."""
    if default is empty or callable(default):
        return False
    if isinstance(default, bool) or isinstance(value, bool):
        return value is default
    if isinstance(default, str):  # the default may be a choices enum
        return isinstance(value, str) and value == default
    return type(value) is type(default) and value == default


class JobSubmissionView(APIView):
    """Base of every endpoint that submits work.

    Subclasses set ``serializer_class`` and implement ``perform_submit(data,
    organisation, user, idempotency)`` returning the new job, inside the
    transaction opened here.
    """

    throttle_classes = [SubmissionThrottle]
    serializer_class = None

    def get_serializer_context(self):
        return {
            "request": self.request,
            "organisation": organisation_of(self.request.user),
        }

    @extend_schema(
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                location=OpenApiParameter.HEADER,
                required=False,
                description="Repeat a submission safely: the same key and body "
                "return the first job (200); the same key with another body is "
                "refused (422).",
            )
        ],
        responses={
            202: JobSerializer,
            200: JobSerializer,
            400: OpenApiResponse(description="Invalid request."),
            422: OpenApiResponse(description="Idempotency-Key reused."),
        },
    )
    def post(self, request):
        organisation = organisation_of(request.user)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        body_hash = ""
        if key is not None:
            if not 1 <= len(key) <= 128:
                raise ValidationError(
                    {IDEMPOTENCY_HEADER: ["Must be 1 to 128 characters long."]}
                )
            # The key is stored as text: PostgreSQL refuses NUL, and no
            # client needs other control characters in a key.
            if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
                raise ValidationError(
                    {IDEMPOTENCY_HEADER: ["Must not contain control characters."]}
                )
            canonical = json.dumps(
                {"path": request.path, "body": self._canonical_body(request.data)},
                sort_keys=True,
                default=str,
            )
            body_hash = hashlib.sha256(canonical.encode()).hexdigest()
            # A repeat answers as the first request did, even if what it
            # names has changed since.
            existing = self._existing(organisation, request.user, key, body_hash)
            if existing is not None:
                return existing

        serializer = self.serializer_class(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                job = self.perform_submit(
                    serializer.validated_data,
                    organisation=organisation,
                    user=request.user,
                    idempotency={"idempotency_key": key, "request_hash": body_hash},
                )
        except IntegrityError:
            if key is None:
                raise
            # Two requests with the same key raced; the other one won.
            existing = self._existing(organisation, request.user, key, body_hash)
            if existing is None:
                raise
            return existing
        data = JobSerializer(job, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)

    def _canonical_body(self, body):
        """``body`` as the request it means, for Idempotency-Key.

        ``{"priority": 5}`` asks for what leaving priority out asks for, and
        an id in capitals names what it names in small letters: such bodies
        are the same request. Fields that only repeat their default are left
        out, so requests that never named them hash as before.
        """
        if not isinstance(body, dict):
            return body
        fields = self.serializer_class().fields
        return {
            name: _canonical_ids(value) if _names_objects(fields.get(name)) else value
            for name, value in body.items()
            if name not in fields or not _is_default(value, fields[name].default)
        }

    def _existing(self, organisation, user, key, body_hash):
        job = Job.objects.filter(
            organisation=organisation, submitted_by=user, idempotency_key=key
        ).first()
        if job is None:
            return None
        if job.request_hash != body_hash:
            return Response(
                {
                    "detail": "This Idempotency-Key was already used with a "
                    "different request.",
                    "code": "idempotency_key_reused",
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        data = JobSerializer(job, context={"request": self.request}).data
        return Response(data, status=status.HTTP_200_OK)

    def perform_submit(self, data, *, organisation, user, idempotency):
        raise NotImplementedError
