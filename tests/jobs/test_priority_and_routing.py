"""Priorities, queues and schedules, checked against a real worker and Redis."""

import pytest
from django.db import transaction

from jobs.models import Job
from jobs.priorities import broker_priority
from jobs.services import create_job
from tests.conftest import wait_for, wait_for_job

pytestmark = pytest.mark.integration


def submit_probe(organisation, priority=None, seconds=0):
    with transaction.atomic():
        return create_job(
            organisation=organisation,
            kind=Job.Kind.PROBE,
            params={"seconds": seconds},
            priority=priority,
        )


def test_broker_priority_reverses_the_api_scale():
    assert [broker_priority(p) for p in (0, 5, 9)] == [9, 4, 0]
    assert broker_priority(None) == 4
    with pytest.raises(ValueError):
        broker_priority(10)
    with pytest.raises(TypeError):
        broker_priority(True)


def test_urgent_job_runs_next_and_unset_priority_counts_as_five(organisation, worker):
    blocker = submit_probe(organisation, priority=5, seconds=3)
    wait_for(
        lambda: Job.objects.get(pk=blocker.pk).status == Job.Status.RUNNING,
        message="the blocker to start",
    )
    backlog = [submit_probe(organisation, priority=2) for _ in range(4)]
    unset = submit_probe(organisation, priority=None)
    urgent = submit_probe(organisation, priority=9)

    for job in [blocker, *backlog, unset, urgent]:
        assert wait_for_job(job.pk).status == Job.Status.SUCCEEDED

    order = list(
        Job.objects.filter(kind=Job.Kind.PROBE)
        .order_by("started_at")
        .values_list("pk", flat=True)
    )
    assert order[0] == blocker.pk
    assert order[1] == urgent.pk, "the priority-9 job submitted last must run next"
    assert order[2] == unset.pk, "a job without priority runs as 5, before the 2s"
    assert set(order[3:]) == {job.pk for job in backlog}
    assert Job.objects.get(pk=unset.pk).priority == 5


def test_tasks_are_routed_to_their_domain_queue():
    from dreamseed.celery import app

    router = app.amqp.router
    expected = {
        "dreamseed.reports.render_report": "reports",
        "dreamseed.calibration.calibrate_item_bank": "irt",
        "dreamseed.notifications.send_email": "emails",
        "dreamseed.jobs.probe": "default",
    }
    for task_name, queue in expected.items():
        route = router.route({}, task_name)
        assert route["queue"].name == queue, task_name


def test_job_on_a_queue_nobody_consumes_waits(organisation, worker_factory):
    """A worker for reports only leaves a probe (default queue) queued."""
    worker_factory(queues=["reports"])
    job = submit_probe(organisation)
    with pytest.raises(AssertionError):
        wait_for_job(job.pk, timeout=3)
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


@pytest.mark.django_db
def test_beat_schedules_exist_as_editable_rows():
    from django_celery_beat.models import PeriodicTask

    rows = {t.name: t for t in PeriodicTask.objects.select_related("crontab")}
    analytics = rows["Aggregate daily analytics"]
    assert analytics.task == "dreamseed.analytics.aggregate_daily"
    assert (analytics.crontab.minute, analytics.crontab.hour) == ("0", "2")
    weekly = rows["Calibrate every item bank"]
    assert (weekly.crontab.hour, weekly.crontab.day_of_week) == ("3", "0")
    cleanup = rows["Clean up expired data"]
    assert (cleanup.crontab.minute, cleanup.crontab.hour) == ("0", "1")
    assert rows["Sweep lost and stale jobs"].task == "dreamseed.jobs.sweep"


def test_task_results_record_name_arguments_and_worker(
    organisation, worker_factory, monkeypatch
):
    from django_celery_results.models import TaskResult

    from jobs.tasks import probe

    # The publisher tells the worker whether to keep a result, so the setting
    # matters where jobs are submitted (and in workers, for their retries).
    monkeypatch.setattr(probe, "ignore_result", False)
    worker_factory(concurrency=1, env={"JOBS_STORE_TASK_RESULTS": "1"})
    job = wait_for_job(submit_probe(organisation).pk)
    assert job.status == Job.Status.SUCCEEDED
    # The job row is finished before Celery writes its result: wait for it.
    result = wait_for(
        lambda: TaskResult.objects.filter(
            task_id=job.celery_task_id, status="SUCCESS"
        ).first(),
        message="the task's SUCCESS result row",
    )
    assert result.task_name == "dreamseed.jobs.probe"
    assert str(job.pk) in result.task_args
    assert result.worker and result.worker.startswith("test-")


def test_job_tasks_keep_their_outcome_in_the_job_row_only(organisation, worker):
    from django_celery_results.models import TaskResult

    from jobs.tasks import diagnostic_noop

    job = wait_for_job(submit_probe(organisation).pk)
    assert job.status == Job.Status.SUCCEEDED
    assert job.result == {"slept": 0, "attempt": 1}
    # Any other task keeps Celery's row; once it is there, the job's would be.
    plain = diagnostic_noop.apply_async(args=[7])
    row = wait_for(
        lambda: TaskResult.objects.filter(task_id=plain.id, status="SUCCESS").first(),
        message="the plain task's result row",
    )
    assert row.result == "7"
    assert row.task_name == "dreamseed.jobs.diagnostic_noop"
    assert not TaskResult.objects.filter(task_id=job.celery_task_id).exists()
