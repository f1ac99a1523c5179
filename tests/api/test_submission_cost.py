"""What one submission costs the database, and the lookups that keep it low."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

SUBMIT = "/api/v1/reports/submit/"


def report_body(student, assessment, **extra):
    return {"student": str(student.pk), "assessment": str(assessment.pk), **extra}


@pytest.mark.django_db(transaction=True)
def test_a_submission_costs_six_queries(api, student, assessment, flush_broker):
    from jobs.models import Job
    from reports.models import Report

    with CaptureQueriesContext(connection) as queries:
        response = api.post(SUBMIT, report_body(student, assessment), format="json")
    assert response.status_code == 202, response.content

    # The token with its user, membership and organisation; the student and
    # the assessment together; then the job and its report in one transaction.
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["SELECT", "SELECT", "BEGIN", "INSERT", "INSERT", "COMMIT"]
    job = Job.objects.get(pk=response.json()["id"])
    report = Report.objects.get(job=job)
    assert (report.student_id, report.assessment_id) == (student.pk, assessment.pk)
    assert job.celery_task_id and job.publish_count == 1


@pytest.mark.django_db
def test_the_organisation_comes_with_the_token(api, user, organisation):
    from assessments.authentication import OrganisationTokenAuthentication

    key = api._credentials["HTTP_AUTHORIZATION"].split()[1]
    with CaptureQueriesContext(connection) as queries:
        found, token = OrganisationTokenAuthentication().authenticate_credentials(key)
        assert found == user and token.key == key and token.user is found
        assert found.membership.organisation == organisation
        assert found.membership.organisation.slug == organisation.slug
    assert len(queries) == 1


@pytest.mark.django_db
def test_a_deleted_token_or_an_inactive_user_is_refused_at_once(api, user):
    from rest_framework.authtoken.models import Token

    assert api.get("/api/v1/jobs/").status_code == 200
    user.is_active = False
    user.save()
    assert api.get("/api/v1/jobs/").status_code == 401
    user.is_active = True
    user.save()
    assert api.get("/api/v1/jobs/").status_code == 200
    Token.objects.filter(user=user).delete()
    assert api.get("/api/v1/jobs/").status_code == 401


@pytest.mark.django_db
def test_a_token_of_a_user_without_membership_is_403_without_a_query(db):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from assessments.authentication import OrganisationTokenAuthentication

    lonely = get_user_model().objects.create_user("lonely", password="x")
    key = Token.objects.create(user=lonely).key
    with CaptureQueriesContext(connection) as queries:
        found, _ = OrganisationTokenAuthentication().authenticate_credentials(key)
        assert not hasattr(found, "membership")
    assert len(queries) == 1
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post(SUBMIT, {}, format="json").status_code == 403


@pytest.mark.django_db
def test_both_missing_objects_are_reported_at_once(
    api, other_student, assessment, other_organisation
):
    from assessments.models import Assessment

    theirs = Assessment.objects.create(
        organisation=other_organisation, code="T", name="Theirs"
    )
    body = {"student": str(other_student.pk), "assessment": str(theirs.pk)}
    response = api.post(SUBMIT, body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "student": [f"No such object in your organisation: {other_student.pk}."],
        "assessment": [f"No such object in your organisation: {theirs.pk}."],
    }


@pytest.mark.django_db
def test_an_id_counts_only_for_its_own_kind_of_object(api, student, assessment):
    # The student's id given as the assessment names no assessment.
    body = {"student": str(student.pk), "assessment": str(student.pk)}
    response = api.post(SUBMIT, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["assessment"]


@pytest.mark.django_db
def test_lookups_and_other_field_errors_are_reported_together(api, assessment):
    missing = uuid.uuid4()
    body = {"student": str(missing), "assessment": "nope", "priority": 12}
    response = api.post(SUBMIT, body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"student", "assessment", "priority"}
    assert errors["student"] == [f"No such object in your organisation: {missing}."]
    # An id in upper case names the same object.
    upper = report_body(assessment=assessment, student=assessment)
    upper["assessment"] = upper["assessment"].upper()
    assert list(api.post(SUBMIT, upper, format="json").json()) == ["student"]


@pytest.mark.django_db
def test_each_job_serializer_binds_fields_of_its_own(probe_job):
    from jobs.serializers import JobSerializer

    first, second = JobSerializer(probe_job), JobSerializer(probe_job)
    for name in ("id", "status", "links"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first
        assert second.fields[name].parent is second
    assert first.data == second.data
