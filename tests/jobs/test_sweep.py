"""The sweeper's choice of jobs to publish again (no worker needed)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job
from jobs.services import sweep_due

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("publish_count", "seconds_ago", "due"),
    [
        (1, 4, False),
        (1, 6, True),
        (2, 6, False),
        (2, 11, True),
        (3, 19, False),
        (3, 21, True),
        (7, 5 * 64 - 1, False),
        (7, 5 * 64 + 1, True),
        (30, 5 * 64 + 1, True),
    ],
)
def test_the_wait_doubles_with_each_publication(
    organisation, publish_count, seconds_ago, due
):
    now = timezone.now()
    job = Job.objects.create(
        organisation=organisation,
        kind=Job.Kind.PROBE,
        publish_count=publish_count,
        published_at=now - timedelta(seconds=seconds_ago),
    )
    found = Job.objects.filter(sweep_due(now, timedelta(seconds=5)), pk=job.pk)
    assert found.exists() is due


def test_a_job_never_published_is_due_after_the_wait(organisation):
    job = Job.objects.create(organisation=organisation, kind=Job.Kind.PROBE)
    due = sweep_due(timezone.now() + timedelta(seconds=6), timedelta(seconds=5))
    assert Job.objects.filter(due, pk=job.pk).exists()
    early = sweep_due(timezone.now(), timedelta(seconds=5))
    assert not Job.objects.filter(early, pk=job.pk).exists()
