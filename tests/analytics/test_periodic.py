"""Periodic work: clean-up in batches, the calibration fan-out, local-time crons."""

import datetime
import zoneinfo
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_results.models import TaskResult

from assessments.models import Assessment, Item, Organisation, Response, Student
from calibration.services import submit_all_calibrations
from calibration.tasks import calibrate_all_item_banks
from jobs import tasks as job_tasks
from jobs.models import Job

UTC = datetime.UTC


def test_cleanup_deletes_many_expired_rows_in_batches(db, settings):
    now = timezone.now()
    old = now - timedelta(seconds=settings.CELERY_RESULT_EXPIRES + 60)
    TaskResult.objects.bulk_create(
        [TaskResult(task_id=f"old-{i}", status="SUCCESS") for i in range(12_345)],
        batch_size=5000,
    )
    TaskResult.objects.update(date_done=old)
    TaskResult.objects.bulk_create(
        [TaskResult(task_id=f"new-{i}", status="SUCCESS") for i in range(10)]
    )
    Session.objects.bulk_create(
        [
            Session(session_key=f"s{i:038d}", session_data="", expire_date=old)
            for i in range(3000)
        ]
        + [
            Session(
                session_key="live" * 10,
                session_data="",
                expire_date=now + timedelta(days=1),
            )
        ]
    )
    with CaptureQueriesContext(connection) as queries:
        counts = job_tasks.cleanup()
    deletes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('DELETE FROM "django_celery_results_taskresult"')
    ]
    # 12,345 rows in batches of CLEANUP_BATCH_ROWS (5,000): three statements.
    assert len(deletes) == 3

    assert counts["task_results"] == 12_345
    assert counts["sessions"] == 3000
    assert "exports" in counts, "the exports app's clean-up hook ran"
    assert TaskResult.objects.count() == 10
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live" * 10]


def add_responses(organisation, n_students=2):
    assessment = Assessment.objects.create(
        organisation=organisation, code="A", name="A"
    )
    item = Item.objects.create(organisation=organisation, code="I")
    for i in range(n_students):
        student = Student.objects.create(organisation=organisation, external_id=f"S{i}")
        Response.objects.create(
            organisation=organisation,
            student=student,
            assessment=assessment,
            item=item,
            correct=bool(i % 2),
            answered_at=timezone.now(),
            position=1,
        )


def test_weekly_calibration_fans_out_once_per_organisation(
    organisation, other_organisation, django_capture_on_commit_callbacks
):
    add_responses(organisation)
    add_responses(other_organisation)
    Organisation.objects.create(name="No data", slug="empty")

    with django_capture_on_commit_callbacks() as callbacks:
        assert calibrate_all_item_banks() == 2
        assert calibrate_all_item_banks() == 0, "queued jobs are not doubled"
    jobs = Job.objects.filter(kind=Job.Kind.CALIBRATION)
    assert sorted(jobs.values_list("organisation__slug", flat=True)) == [
        "shelbyville",
        "springfield",
    ]
    assert set(jobs.values_list("status", flat=True)) == {Job.Status.QUEUED}
    assert len(callbacks) == 2, "one publish per job"

    # Once they have ended, the next week's fan-out submits again.
    jobs.update(status=Job.Status.SUCCEEDED)
    assert submit_all_calibrations() == 2
    assert Job.objects.filter(kind=Job.Kind.CALIBRATION).count() == 4


NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def next_fire(schedule, last_run, now):
    """When the beat would next run the row, seen from ``now``."""
    schedule.nowfun = lambda: now.astimezone(schedule.tz)
    return now + schedule.remaining_estimate(last_run)


@pytest.mark.parametrize(
    "last_local, expected_local, hours_between",
    [
        # Spring forward on Sunday 8 March 2026: a 23-hour gap in UTC.
        (
            datetime.datetime(2026, 3, 7, 8, 0, tzinfo=NEW_YORK),
            datetime.datetime(2026, 3, 8, 8, 0, tzinfo=NEW_YORK),
            23,
        ),
        (
            datetime.datetime(2026, 3, 8, 8, 0, tzinfo=NEW_YORK),
            datetime.datetime(2026, 3, 9, 8, 0, tzinfo=NEW_YORK),
            24,
        ),
        # Fall back on Sunday 1 November 2026: a 25-hour gap.
        (
            datetime.datetime(2026, 10, 31, 8, 0, tzinfo=NEW_YORK),
            datetime.datetime(2026, 11, 1, 8, 0, tzinfo=NEW_YORK),
            25,
        ),
    ],
)
def test_local_time_schedule_fires_at_local_wall_clock_across_dst(
    db, last_local, expected_local, hours_between
):
    crontab = CrontabSchedule.objects.create(
        minute="0", hour="8", timezone="America/New_York"
    )
    PeriodicTask.objects.create(
        name="Springfield morning digest",
        task="dreamseed.analytics.aggregate_daily",
        crontab=crontab,
    )
    schedule = PeriodicTask.objects.get(name="Springfield morning digest").schedule
    last_run = last_local.astimezone(UTC)
    expected = expected_local.astimezone(UTC)
    assert expected - last_run == timedelta(hours=hours_between)

    seen_from = last_run + timedelta(minutes=5)
    fire = next_fire(schedule, last_run, seen_from)
    assert abs(fire - expected) < timedelta(seconds=1)

    schedule.nowfun = lambda: (expected - timedelta(minutes=1)).astimezone(NEW_YORK)
    assert not schedule.is_due(last_run).is_due
    schedule.nowfun = lambda: (expected + timedelta(seconds=30)).astimezone(NEW_YORK)
    assert schedule.is_due(last_run).is_due
    # Having run, it is not due again that day (fires once per local day).
    assert not schedule.is_due(expected).is_due


def test_one_failing_cleanup_hook_does_not_stop_the_others(db, monkeypatch):
    from datetime import timedelta

    from django.apps import apps
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from jobs import tasks as job_tasks

    exports_config = apps.get_app_config("exports")

    def broken(now):
        raise RuntimeError("storage unreachable")

    monkeypatch.setattr(exports_config, "cleanup_expired", broken, raising=False)
    Session.objects.create(
        session_key="expired",
        session_data="",
        expire_date=timezone.now() - timedelta(1),
    )
    counts = job_tasks.cleanup()
    assert counts["exports_failed"] == 1
    assert counts["sessions"] == 1
    assert not Session.objects.filter(session_key="expired").exists()
