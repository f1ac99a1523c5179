"""A batch cancelled before any member ended still lists its members."""

import pytest

from jobs.models import Job
from reports.models import Report

BATCH = "/api/v1/reports/batch/"


@pytest.mark.django_db(transaction=True)
def test_a_batch_cancelled_while_queued_lists_each_member(api, organisation):
    from assessments.models import Assessment, Student

    assessment = Assessment.objects.create(
        organisation=organisation, code="A", name="A"
    )
    students = [
        Student.objects.create(organisation=organisation, external_id=f"S-{i}")
        for i in range(3)
    ]
    # Published for real; no worker runs, so the members stay queued.
    response = api.post(
        BATCH,
        {"assessment": str(assessment.pk), "students": [str(s.pk) for s in students]},
        format="json",
    )
    assert response.status_code == 202
    batch_id = response.json()["id"]
    response = api.post(f"/api/v1/jobs/{batch_id}/cancel/")
    assert response.status_code == 200
    batch = Job.objects.get(pk=batch_id)
    assert set(batch.children.values_list("status", flat=True)) == {"cancelled"}
    assert set(
        Report.objects.filter(job__parent=batch).values_list("status", flat=True)
    ) == {"cancelled"}
    assert batch.status == Job.Status.CANCELLED
    assert batch.result is not None and batch.result["cancelled"] == 3
    assert len(batch.result["members"]) == 3
    assert {m["status"] for m in batch.result["members"]} == {"cancelled"}
    assert batch.error == "Cancelled before it started."
    assert batch.progress_step == "3 of 3 ended (3 cancelled)"


@pytest.mark.django_db(transaction=True)
def test_job_lists_show_a_batch_without_its_members(api, organisation):
    from assessments.models import Assessment, Student

    assessment = Assessment.objects.create(
        organisation=organisation, code="B", name="B"
    )
    students = [
        Student.objects.create(organisation=organisation, external_id=f"L-{i}")
        for i in range(2)
    ]
    response = api.post(
        BATCH,
        {"assessment": str(assessment.pk), "students": [str(s.pk) for s in students]},
        format="json",
    )
    batch_id = response.json()["id"]
    api.post(f"/api/v1/jobs/{batch_id}/cancel/")

    detail = api.get(f"/api/v1/jobs/{batch_id}/").json()
    assert len(detail["result"]["members"]) == 2
    listed = api.get("/api/v1/jobs/?kind=report_batch").json()["results"]
    assert [job["id"] for job in listed] == [batch_id]
    summary = {k: v for k, v in detail["result"].items() if k != "members"}
    assert (
        listed[0]["result"]
        == summary
        == {
            "total": 2,
            "succeeded": 0,
            "failed": 0,
            "cancelled": 2,
        }
    )
    assert listed[0]["links"]["self"].endswith(f"/api/v1/jobs/{batch_id}/")


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_large_batch_takes_a_few_queries_per_member(
    api, organisation, django_assert_max_num_queries
):
    from assessments.models import Assessment, Student

    assessment = Assessment.objects.create(
        organisation=organisation, code="A", name="A"
    )
    students = Student.objects.bulk_create(
        Student(organisation=organisation, external_id=f"S-{i:03d}") for i in range(200)
    )
    response = api.post(
        BATCH,
        {"assessment": str(assessment.pk), "students": [str(s.pk) for s in students]},
        format="json",
    )
    batch_id = response.json()["id"]
    # One member has started: it is asked to stop, not cancelled outright.
    running = Job.objects.filter(parent_id=batch_id).order_by("created_at").first()
    Job.objects.filter(pk=running.pk).update(status=Job.Status.RUNNING)

    # Each member cancelled one by one (and the batch recounted for each)
    # took about nine queries a member. Now two: its report's status, and
    # whether the organisation has webhooks (which the tests never cache).
    with django_assert_max_num_queries(2 * 200 + 30):
        response = api.post(f"/api/v1/jobs/{batch_id}/cancel/")
    assert response.status_code == 200
    members = Job.objects.filter(parent_id=batch_id)
    assert members.filter(status=Job.Status.CANCELLED).count() == 199
    running.refresh_from_db()
    assert (running.status, running.cancel_requested) == (Job.Status.RUNNING, True)
    assert set(
        Report.objects.filter(job__parent_id=batch_id)
        .exclude(job=running)
        .values_list("status", flat=True)
    ) == {"cancelled"}
    batch = Job.objects.get(pk=batch_id)
    assert batch.progress_step == "199 of 200 ended (199 cancelled)"
    # Cancelled before any member ended; its summary waits for the last one.
    assert (batch.status, batch.result) == (Job.Status.CANCELLED, None)
    assert batch.error == "Cancelled; its members already running were asked to stop."
