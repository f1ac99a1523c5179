"""Daily analytics: figures, idempotency, the task and the backfill command."""

import datetime
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.models import DailyAssessmentStats
from analytics.services import aggregate_day, yesterday_utc
from analytics.tasks import aggregate_daily
from assessments.models import Assessment, Item, Response, Student
from calibration.models import AbilityEstimate, CalibrationRun

UTC = datetime.UTC
DAY = datetime.date(2026, 3, 10)


def at(day, hour, minute=0):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=UTC)


@pytest.fixture
def responses(organisation, other_organisation):
    maths = Assessment.objects.create(organisation=organisation, code="M", name="M")
    items = [
        Item.objects.create(organisation=organisation, code=f"I{j}") for j in range(3)
    ]
    students = [
        Student.objects.create(organisation=organisation, external_id=f"S{i}")
        for i in range(3)
    ]
    # S0: 3 answers on DAY, 2 correct. S1: 1 answer on DAY (wrong) at 23:59.
    # S2: answers only the day after (and at 00:00 sharp, the next day).
    answers = [
        (students[0], items[0], True, at(DAY, 0, 0)),
        (students[0], items[1], True, at(DAY, 9)),
        (students[0], items[2], False, at(DAY, 10)),
        (students[1], items[0], False, at(DAY, 23, 59)),
        (students[2], items[0], True, at(DAY + timedelta(days=1), 0, 0)),
    ]
    for position, (student, item, correct, when) in enumerate(answers, start=1):
        Response.objects.create(
            organisation=organisation,
            student=student,
            assessment=maths,
            item=item,
            correct=correct,
            answered_at=when,
            position=position,
        )
    other = Assessment.objects.create(
        organisation=other_organisation, code="O", name="O"
    )
    Response.objects.create(
        organisation=other_organisation,
        student=Student.objects.create(
            organisation=other_organisation, external_id="X"
        ),
        assessment=other,
        item=Item.objects.create(organisation=other_organisation, code="X"),
        correct=True,
        answered_at=at(DAY, 12),
        position=1,
    )
    return {"maths": maths, "other": other, "students": students}


def add_run(organisation, students, thetas, finished, status="succeeded"):
    run = CalibrationRun.objects.create(
        organisation=organisation, method="jmle", status=status, finished_at=finished
    )
    for student, theta in zip(students, thetas, strict=True):
        AbilityEstimate.objects.create(run=run, student=student, theta=theta)
    return run


def snapshot():
    return sorted(
        DailyAssessmentStats.objects.values_list(
            "organisation__slug",
            "assessment__code",
            "day",
            "students_assessed",
            "responses",
            "accuracy",
            "mean_ability",
        )
    )


def test_figures_of_a_day(responses, organisation):
    students = responses["students"]
    add_run(organisation, students, [0.5, -1.5, 3.0], at(DAY, 1))
    latest = add_run(organisation, students, [1.0, -2.0, 9.0], at(DAY, 2))
    add_run(organisation, students, [7.0, 7.0, 7.0], at(DAY, 3), status="failed")

    assert aggregate_day(DAY) == 2
    maths = DailyAssessmentStats.objects.get(assessment=responses["maths"], day=DAY)
    assert maths.students_assessed == 2
    assert maths.responses == 4
    assert maths.accuracy == pytest.approx(0.5)
    # Mean of S0 and S1 in the latest successful run; S2 did not answer.
    assert maths.mean_ability == pytest.approx(-0.5)
    assert maths.calibration_run == latest
    other = DailyAssessmentStats.objects.get(assessment=responses["other"], day=DAY)
    assert other.mean_ability is None, "no calibration: no mean ability"
    assert other.responses == 1 and other.accuracy == 1.0


def test_running_twice_gives_the_same_rows(responses):
    aggregate_day(DAY)
    first = snapshot()
    aggregate_day(DAY)
    assert snapshot() == first
    assert DailyAssessmentStats.objects.count() == 2

    # A response deleted since: the recomputation drops the stale figures.
    Response.objects.filter(assessment=responses["other"]).delete()
    aggregate_day(DAY)
    assert [row[1] for row in snapshot()] == ["M"]


def test_task_defaults_to_yesterday_in_utc(responses):
    assert yesterday_utc(at(DAY + timedelta(days=1), 0, 30)) == DAY
    late_evening_elsewhere = datetime.datetime(
        2026, 3, 10, 20, 0, tzinfo=datetime.timezone(timedelta(hours=-5))
    )
    assert yesterday_utc(late_evening_elsewhere) == DAY  # 01:00 UTC on the 11th

    assert aggregate_daily(day=DAY.isoformat()) == 2
    assert aggregate_daily(day=(DAY + timedelta(days=1)).isoformat()) == 1
    from dreamseed.celery import app

    assert "dreamseed.analytics.aggregate_daily" in app.tasks


def test_beat_row_points_at_the_registered_task(db):
    from django_celery_beat.models import PeriodicTask

    from dreamseed.celery import app
    from jobs.schedules import ensure_schedules

    ensure_schedules()
    for row in PeriodicTask.objects.all():
        assert row.task in app.tasks, row.task


def test_backfill_command(responses, capsys):
    call_command("backfill_analytics", "--from", "2026-03-09", "--to", "2026-03-11")
    assert "3 days, 3 rows" in capsys.readouterr().out
    assert sorted({row[2] for row in snapshot()}) == [DAY, DAY + timedelta(days=1)]

    for bad in (
        ["--from", "2026-03-32", "--to", "2026-04-01"],
        ["--from", "yesterday", "--to", "2026-04-01"],
        ["--from", "2026-03-12", "--to", "2026-03-11"],
        ["--from", "1900-01-01", "--to", "2026-03-11"],
    ):
        with pytest.raises(CommandError):
            call_command("backfill_analytics", *bad)
