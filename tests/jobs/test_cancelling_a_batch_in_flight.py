"""Cancelling a batch while its members change state under it."""

import threading

import pytest
from django.db import connection
from django.db.models import QuerySet

from jobs import services
from jobs.models import Job


def make_batch(organisation, members):
    batch = services.create_job(
        organisation=organisation, kind=Job.Kind.REPORT_BATCH, publish=False
    )
    jobs = services.create_jobs(
        organisation=organisation,
        kind=Job.Kind.REPORT,
        params_list=[{} for _ in range(members)],
        parent=batch,
    )
    return batch, jobs


@pytest.mark.django_db(transaction=True)
def test_a_member_retried_while_the_batch_is_cancelled_is_cancelled_too(
    organisation, monkeypatch
):
    batch, (retried, queued) = make_batch(organisation, 2)
    Job.objects.filter(pk__in=[batch.pk, retried.pk]).update(
        status=Job.Status.RUNNING, attempts=1, claimed_by="elsewhere:1"
    )

    # While the cancellation works through the members, the worker running
    # one gives its attempt up and puts it back in the queue (a transient
    # error), on its own connection, as a worker does.
    def worker_retries():
        try:
            Job.objects.filter(
                pk=retried.pk, status=Job.Status.RUNNING, claimed_by="elsewhere:1"
            ).update(status=Job.Status.QUEUED, error_code="retrying")
        finally:
            connection.close()

    update = QuerySet.update
    raced = []

    def update_then_race(self, **kwargs):
        count = update(self, **kwargs)
        if self.model is Job and not raced:
            raced.append(True)
            thread = threading.Thread(target=worker_retries)
            thread.start()
            thread.join(timeout=10)
            assert not thread.is_alive(), "the worker's update was blocked"
        return count

    monkeypatch.setattr(QuerySet, "update", update_then_race)
    services.cancel_job(batch)
    monkeypatch.undo()

    assert raced
    retried.refresh_from_db()
    queued.refresh_from_db()
    assert queued.status == Job.Status.CANCELLED
    # Left queued and not asked to stop, it would run again in full.
    assert retried.status == Job.Status.CANCELLED or retried.cancel_requested
    assert retried.status in (Job.Status.CANCELLED, Job.Status.QUEUED)
    if retried.status == Job.Status.QUEUED:
        # Its next delivery cancels it instead of running it.
        from jobs.runner import claim

        assert claim(retried.pk) is None
        retried.refresh_from_db()
        assert retried.status == Job.Status.CANCELLED
    batch.refresh_from_db()
    assert batch.status == Job.Status.CANCELLED
    assert batch.result["cancelled"] == 2


@pytest.mark.django_db
def test_cancelling_a_batch_whose_members_all_ended_finishes_it(organisation):
    batch, members = make_batch(organisation, 3)
    # Every member ended, but the worker that ended the last one was killed
    # before it recounted the batch: nothing else ever recounts it.
    Job.objects.filter(pk__in=[m.pk for m in members]).update(
        status=Job.Status.SUCCEEDED
    )
    Job.objects.filter(pk=batch.pk).update(
        status=Job.Status.RUNNING, progress_step="2 of 3 ended (2 succeeded)"
    )
    batch.refresh_from_db()

    services.cancel_job(batch)

    batch.refresh_from_db()
    assert batch.status == Job.Status.SUCCEEDED
    assert batch.progress_step == "3 of 3 ended (3 succeeded)"
    assert batch.result["succeeded"] == 3
    assert batch.finished_at is not None


def summary_matches_members(batch):
    members = {
        str(pk): status for pk, status in batch.children.values_list("pk", "status")
    }
    listed = {m["job"]: m["status"] for m in batch.result["members"]}
    counts = {
        outcome: sum(1 for status in members.values() if status == outcome)
        for outcome in ("succeeded", "failed", "cancelled")
    }
    return listed == members and all(batch.result[k] == v for k, v in counts.items())


@pytest.mark.django_db
def test_a_member_requeued_after_the_batch_was_cancelled_updates_its_summary(
    organisation,
):
    from jobs.runner import finish

    batch, (again, left) = make_batch(organisation, 2)
    services.cancel_job(batch)
    batch.refresh_from_db()
    assert (batch.status, batch.result["cancelled"]) == (Job.Status.CANCELLED, 2)

    services.requeue_job(again)
    finish(again.pk, Job.Status.SUCCEEDED, result={"report": "r"})

    batch.refresh_from_db()
    assert batch.progress_step == "2 of 2 ended (1 succeeded, 1 cancelled)"
    assert batch.status == Job.Status.CANCELLED
    assert summary_matches_members(batch), batch.result


@pytest.mark.django_db
def test_a_failed_member_requeued_and_succeeding_lets_the_batch_succeed(
    organisation,
):
    from jobs.runner import finish

    batch, (failed, succeeded) = make_batch(organisation, 2)
    finish(succeeded.pk, Job.Status.SUCCEEDED, result={})
    finish(failed.pk, Job.Status.FAILED, error="boom", code="internal_error")
    batch.refresh_from_db()
    assert (batch.status, batch.error_code) == (Job.Status.FAILED, "members_failed")

    services.requeue_job(failed)
    batch.refresh_from_db()
    # Running again, not reading as failed while its member runs.
    assert not batch.is_terminal and batch.finished_at is None
    finish(failed.pk, Job.Status.SUCCEEDED, result={})

    batch.refresh_from_db()
    assert (batch.status, batch.error, batch.error_code) == (
        Job.Status.SUCCEEDED,
        "",
        "",
    )
    assert summary_matches_members(batch), batch.result


@pytest.mark.django_db(transaction=True)
def test_a_report_requeued_after_its_batch_was_cancelled_reads_queued(
    api, organisation
):
    from assessments.models import Assessment, Student
    from reports.models import Report

    assessment = Assessment.objects.create(
        organisation=organisation, code="A", name="A"
    )
    students = [
        Student.objects.create(organisation=organisation, external_id=f"S-{i}")
        for i in range(2)
    ]
    response = api.post(
        "/api/v1/reports/batch/",
        {"assessment": str(assessment.pk), "students": [str(s.pk) for s in students]},
        format="json",
    )
    batch_id = response.json()["id"]
    assert api.post(f"/api/v1/jobs/{batch_id}/cancel/").status_code == 200
    again = Job.objects.filter(parent_id=batch_id).order_by("created_at").first()
    report = Report.objects.get(job=again)
    assert report.status == Report.Status.CANCELLED

    services.requeue_job(again)

    report.refresh_from_db()
    assert (report.status, report.error, report.finished_at) == (
        Report.Status.QUEUED,
        "",
        None,
    )
    listed = api.get(f"/api/v1/reports/{report.pk}/").json()
    assert listed["status"] == Report.Status.QUEUED
