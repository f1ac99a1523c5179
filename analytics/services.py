"""Aggregating a day's responses; recomputed from scratch, so safe to repeat."""

import datetime
import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Avg, Case, Count, FloatField, IntegerField, When
from django.utils import timezone

from assessments.models import Organisation, Response
from calibration.models import AbilityEstimate
from calibration.services import current_run

from .models import DailyAssessmentStats

logger = logging.getLogger(__name__)

INTEGER = IntegerField()


def yesterday_utc(now=None):
    now = now or timezone.now()
    return now.astimezone(datetime.UTC).date() - timedelta(days=1)


def aggregate_day(day):
    """Recompute and store the figures of ``day`` (UTC); return rows written.

    Rows of that day are replaced as a whole inside one transaction, so a
    second run gives the same rows and a day whose responses were deleted
    loses its stale figures.
    """
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
    end = start + timedelta(days=1)
    groups = (
        Response.objects.filter(answered_at__gte=start, answered_at__lt=end)
        .values("organisation_id", "assessment_id")
        .annotate(
            students=Count("student_id", distinct=True),
            responses=Count("id"),
            accuracy=Avg(
                Case(When(correct=True, then=1), default=0, output_field=INTEGER),
                output_field=FloatField(),
            ),
        )
        .order_by("organisation_id", "assessment_id")
    )
    runs = {}
    rows = []
    for group in groups:
        org_id = group["organisation_id"]
        if org_id not in runs:
            runs[org_id] = current_run(Organisation(pk=org_id))
        run = runs[org_id]
        mean_ability = None
        if run is not None:
            students = Response.objects.filter(
                organisation_id=org_id,
                assessment_id=group["assessment_id"],
                answered_at__gte=start,
                answered_at__lt=end,
            ).values("student_id")
            mean_ability = AbilityEstimate.objects.filter(
                run=run, student_id__in=students
            ).aggregate(mean=Avg("theta"))["mean"]
        rows.append(
            DailyAssessmentStats(
                organisation_id=org_id,
                assessment_id=group["assessment_id"],
                day=day,
                students_assessed=group["students"],
                responses=group["responses"],
                accuracy=group["accuracy"],
                mean_ability=mean_ability,
                calibration_run=run,
            )
        )
    with transaction.atomic():
        DailyAssessmentStats.objects.filter(day=day).delete()
        DailyAssessmentStats.objects.bulk_create(rows)
    logger.info("analytics for %s: %s rows", day, len(rows))
    return len(rows)


def aggregate_range(first, last):
    """Aggregate every day from ``first`` to ``last`` inclusive; return rows."""
    total = 0
    day = first
    while day <= last:
        total += aggregate_day(day)
        day += timedelta(days=1)
    return total
