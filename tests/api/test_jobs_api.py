"""The job endpoints: read, list, cancel, dead letters, idempotent submission."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.models import Job

pytestmark = pytest.mark.django_db

SUBMIT = "/api/v1/reports/submit/"


def make_jobs(organisation, count, **fields):
    return Job.objects.bulk_create(
        Job(organisation=organisation, kind=Job.Kind.PROBE, **fields)
        for _ in range(count)
    )


def test_read_a_job(api, probe_job):
    body = api.get(f"/api/v1/jobs/{probe_job.pk}/").json()
    assert body["id"] == str(probe_job.pk)
    assert body["status"] == "queued"
    assert body["progress"] == {"percent": 0, "step": ""}
    assert body["links"]["self"].endswith(f"/api/v1/jobs/{probe_job.pk}/")


def test_list_filters_by_kind_and_status(api, organisation):
    make_jobs(organisation, 2)
    make_jobs(organisation, 1, status=Job.Status.FAILED)
    Job.objects.create(organisation=organisation, kind=Job.Kind.CALIBRATION)
    results = api.get("/api/v1/jobs/", {"kind": "probe"}).json()["results"]
    assert len(results) == 3
    results = api.get("/api/v1/jobs/", {"kind": "probe", "status": "failed"}).json()
    assert [j["status"] for j in results["results"]] == ["failed"]


def test_list_pages_by_cursor_without_counting(api, organisation):
    make_jobs(organisation, 7)
    seen = []
    url, params = "/api/v1/jobs/", {"page_size": 3}
    with CaptureQueriesContext(connection) as queries:
        while url:
            body = api.get(url, params).json()
            assert "count" not in body
            seen += [j["id"] for j in body["results"]]
            url, params = body["next"], None
    assert len(seen) == len(set(seen)) == 7
    assert not [q for q in queries if "COUNT(" in q["sql"].upper()]


def test_cancel_a_queued_job_at_once(api, probe_job):
    response = api.post(f"/api/v1/jobs/{probe_job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    probe_job.refresh_from_db()
    assert probe_job.status == Job.Status.CANCELLED
    assert probe_job.finished_at is not None
    again = api.post(f"/api/v1/jobs/{probe_job.pk}/cancel/")
    assert again.status_code == 409
    assert again.json()["code"] == "job_finished"


def test_cancel_a_running_job_asks_it_to_stop(api, organisation):
    job = Job.objects.create(
        organisation=organisation, kind=Job.Kind.PROBE, status=Job.Status.RUNNING
    )
    response = api.post(f"/api/v1/jobs/{job.pk}/cancel/")
    # Still running, and saying that it was asked to stop.
    assert (response.json()["status"], response.json()["cancel_requested"]) == (
        "running",
        True,
    )
    assert api.get(f"/api/v1/jobs/{job.pk}/").json()["cancel_requested"] is True
    job.refresh_from_db()
    assert job.cancel_requested


def test_dead_letter_list(api, organisation):
    make_jobs(organisation, 1, status=Job.Status.FAILED)
    [dead] = make_jobs(organisation, 1, status=Job.Status.FAILED, dead_letter=True)
    results = api.get("/api/v1/jobs/dead-letter/").json()["results"]
    assert [j["id"] for j in results] == [str(dead.pk)]


def test_idempotent_submission(api, student, assessment):
    body = {"student": str(student.pk), "assessment": str(assessment.pk)}
    first = api.post(SUBMIT, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 202
    again = api.post(SUBMIT, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Job.objects.filter(kind=Job.Kind.REPORT).count() == 1

    changed = api.post(
        SUBMIT, {**body, "priority": 9}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"
    # The same key on another endpoint is another request too.
    other = api.post(
        "/api/v1/calibrations/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422
    # Without a key, each submission is a new job.
    assert api.post(SUBMIT, body, format="json").json()["id"] != first.json()["id"]


def test_naming_a_default_is_the_same_request_for_an_idempotency_key(
    api, student, assessment
):
    body = {"student": str(student.pk), "assessment": str(assessment.pk)}
    first = api.post(SUBMIT, body, format="json", HTTP_IDEMPOTENCY_KEY="k-d")
    assert first.status_code == 202
    explicit = {**body, "priority": 5, "report_type": "comprehensive"}
    again = api.post(SUBMIT, explicit, format="json", HTTP_IDEMPOTENCY_KEY="k-d")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # And the other way round: named first, left out on the repeat.
    named = api.post(SUBMIT, explicit, format="json", HTTP_IDEMPOTENCY_KEY="k-e")
    assert named.status_code == 202
    repeat = api.post(SUBMIT, body, format="json", HTTP_IDEMPOTENCY_KEY="k-e")
    assert (repeat.status_code, repeat.json()["id"]) == (200, named.json()["id"])
    # An id in capitals names the same student.
    upper = {**body, "student": str(student.pk).upper()}
    same = api.post(SUBMIT, upper, format="json", HTTP_IDEMPOTENCY_KEY="k-d")
    assert (same.status_code, same.json()["id"]) == (200, first.json()["id"])
    # Anything but the default is still another request.
    for changed in ({"priority": 6}, {"report_type": "summary"}, {"priority": "5"}):
        response = api.post(
            SUBMIT, {**body, **changed}, format="json", HTTP_IDEMPOTENCY_KEY="k-d"
        )
        assert response.status_code == 422, changed
    assert Job.objects.filter(kind=Job.Kind.REPORT).count() == 2


def test_idempotency_keys_belong_to_their_user(api, other_api, student, assessment):
    body = {"student": str(student.pk), "assessment": str(assessment.pk)}
    api.post(SUBMIT, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = other_api.post(
        "/api/v1/calibrations/", {}, format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert response.status_code == 202


def test_the_schema_generates_without_warnings(api):
    from drf_spectacular.drainage import GENERATOR_STATS

    GENERATOR_STATS.reset()
    response = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache
    paths = response.json()["paths"]
    assert "/api/v1/jobs/{id}/cancel/" in paths
    assert "/api/v1/students/" in paths
    assert "/api/v1/reports/{id}/pdf/" in paths


def test_admin_actions_report_back(admin_client, organisation):
    [failed] = make_jobs(
        organisation, 1, status=Job.Status.FAILED, dead_letter=True, attempts=3
    )
    [queued] = make_jobs(organisation, 1)
    response = admin_client.post(
        "/admin/jobs/job/",
        {"action": "requeue", "_selected_action": [failed.pk, queued.pk]},
        follow=True,
    )
    text = [str(m) for m in response.context["messages"]]
    assert "1 job(s) requeued." in text
    assert any("skipped" in m for m in text)
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.dead_letter) == ("queued", 0, False)

    response = admin_client.post(
        "/admin/jobs/job/",
        {"action": "cancel", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert "1 job(s) cancelled." in [str(m) for m in response.context["messages"]]
    listing = admin_client.get(
        "/admin/jobs/job/", {"dead_letter__exact": "1", "kind__exact": "probe"}
    )
    assert listing.status_code == 200
    assert admin_client.get("/admin/jobs/job/", {"q": "x"}).status_code == 200


def test_assessments_and_students_can_be_found_for_submissions(
    api, other_api, organisation, other_organisation
):
    from assessments.models import Assessment, Student

    mine = Assessment.objects.create(organisation=organisation, code="MATH", name="M")
    Assessment.objects.create(organisation=other_organisation, code="SECRET", name="S")
    Student.objects.create(organisation=organisation, external_id="S-1")
    wanted = Student.objects.create(organisation=organisation, external_id="S-2")
    Student.objects.create(organisation=other_organisation, external_id="S-2")

    listed = api.get("/api/v1/assessments/").json()["results"]
    assert [(a["id"], a["code"]) for a in listed] == [(str(mine.pk), "MATH")]
    found = api.get("/api/v1/students/", {"external_id": "S-2"}).json()["results"]
    assert [s["id"] for s in found] == [str(wanted.pk)]


def test_an_unknown_api_path_is_a_json_404_after_authentication(api):
    from rest_framework.test import APIClient

    response = api.get("/api/v1/assesments/")
    assert response.status_code == 404
    assert response.json()["code"] == "no_endpoint"
    assert APIClient().get("/api/v1/assesments/").status_code == 401
