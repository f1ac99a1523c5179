"""Everything a client sends is checked: field errors, never a 500."""

import json
import uuid

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

SUBMIT = "/api/v1/reports/submit/"
BATCH = "/api/v1/reports/batch/"
CALIBRATE = "/api/v1/calibrations/"


def post_raw(api, url, body, content_type="application/json"):
    return api.generic("POST", url, body, content_type=content_type)


def report_body(student, assessment, **extra):
    return {"student": str(student.pk), "assessment": str(assessment.pk), **extra}


def test_a_valid_submission_is_accepted(api, student, assessment):
    response = api.post(SUBMIT, report_body(student, assessment), format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert response.json()["priority"] == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("student", "not-a-uuid"),
        ("student", 12),
        ("student", None),
        ("student", str(uuid.uuid4())),
        ("assessment", ["x"]),
        ("report_type", "horoscope"),
        ("report_type", 3),
        ("priority", 10),
        ("priority", -1),
        ("priority", "5"),
        ("priority", True),
        ("priority", 5.5),
        ("priority", 10**40),
        ("priority", None),
        ("notify_email", "not an address"),
    ],
)
def test_bad_fields_are_field_errors(api, student, assessment, field, value):
    body = report_body(student, assessment)
    body[field] = value
    response = api.post(SUBMIT, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_another_organisations_student_is_a_field_error(api, other_student, assessment):
    body = {"student": str(other_student.pk), "assessment": str(assessment.pk)}
    response = api.post(SUBMIT, body, format="json")
    assert response.status_code == 400
    assert "No such object in your organisation" in response.json()["student"][0]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(api, literal):
    response = post_raw(api, CALIBRATE, f'{{"tol": {literal}}}')
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_an_overflowing_float_is_a_field_error(api):
    response = post_raw(api, CALIBRATE, '{"tol": 1e999, "max_iter": 1e999}')
    assert response.status_code == 400
    assert set(response.json()) == {"tol", "max_iter"}


@pytest.mark.parametrize(
    "body", ['{"student": ', "[1, 2", "\xff\xfe", "", "null", "[]", '"text"', "12"]
)
def test_malformed_or_non_object_json_is_400(api, body):
    response = post_raw(api, SUBMIT, body.encode("latin-1"))
    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"],
)
def test_other_content_types_are_415(api, content_type):
    response = post_raw(api, CALIBRATE, "tol=nan", content_type=content_type)
    assert response.status_code == 415


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_an_oversized_body_is_413(api, student, assessment):
    body = report_body(student, assessment, padding="x" * 20_000)
    response = post_raw(api, SUBMIT, json.dumps(body))
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_a_body_longer_than_its_content_length_says_is_413(api):
    body = json.dumps({"padding": "x" * 20_000}).encode()
    response = api.generic(
        "POST",
        CALIBRATE,
        body,
        content_type="application/json",
        CONTENT_LENGTH="100",
    )
    assert response.status_code in (400, 413)


@override_settings(JOBS_BATCH_MAX_SIZE=3)
def test_a_batch_over_the_limit_is_refused_before_any_lookup(
    api, assessment, django_assert_max_num_queries
):
    ids = [str(uuid.uuid4()) for _ in range(4)]
    with django_assert_max_num_queries(12):
        response = api.post(
            BATCH, {"assessment": str(assessment.pk), "students": ids}, format="json"
        )
    assert response.status_code == 400
    assert response.json()["students"] == ["At most 3 ids are allowed, not 4."]


def test_a_batch_reads_its_students_in_one_query(
    api, organisation, assessment, django_assert_max_num_queries
):
    from assessments.models import Student

    students = [
        Student.objects.create(organisation=organisation, external_id=f"B-{i}")
        for i in range(30)
    ]
    body = {"assessment": str(assessment.pk), "students": [str(s.pk) for s in students]}
    response = api.post(BATCH, body, format="json")
    assert response.status_code == 202
    assert response.json()["kind"] == "report_batch"


@pytest.mark.parametrize(
    ("students", "message"),
    [
        (["nope"], "Must be a valid UUID."),
        ("a-string", "A list of UUIDs is required"),
        ([], "This list may not be empty."),
    ],
)
def test_batch_students_errors(api, assessment, students, message):
    body = {"assessment": str(assessment.pk), "students": students}
    response = api.post(BATCH, body, format="json")
    assert response.status_code == 400
    assert message in json.dumps(response.json())


def test_batch_repeated_and_foreign_students(api, assessment, student, other_student):
    body = {"assessment": str(assessment.pk), "students": [str(student.pk)] * 2}
    assert "repeat" in str(api.post(BATCH, body, format="json").json()["students"])
    body["students"] = [str(student.pk), str(other_student.pk)]
    error = api.post(BATCH, body, format="json").json()["students"]
    assert str(other_student.pk) in error[0]


def test_list_filters_are_validated(api):
    response = api.get("/api/v1/jobs/", {"kind": "nope", "status": "lost"})
    assert response.status_code == 400
    assert {"kind", "status"} <= set(response.json())


@pytest.mark.parametrize("cursor", ["%%%", "cD0yMDI", "bm9wZQ==", "x" * 5000])
def test_a_bad_cursor_is_not_a_500(api, probe_job, cursor):
    assert api.get("/api/v1/jobs/", {"cursor": cursor}).status_code in (200, 404)


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_idempotency_key_length_is_checked(api, student, assessment, key):
    response = api.post(
        SUBMIT,
        report_body(student, assessment),
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


def test_submissions_are_throttled_per_user(api, other_api, student, assessment):
    from rest_framework.settings import api_settings

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "submissions": "2/minute"}
    body = report_body(student, assessment)
    with override_settings(
        REST_FRAMEWORK={
            **api_settings.user_settings,
            "DEFAULT_THROTTLE_RATES": rates,
        }
    ):
        from django.core.cache import cache

        cache.clear()
        codes = [api.post(SUBMIT, body, format="json").status_code for _ in range(3)]
        assert codes == [202, 202, 429]
        # Another user has a budget of their own.
        assert other_api.post(CALIBRATE, {}, format="json").status_code == 202
        # Reading is not a submission.
        assert api.get("/api/v1/jobs/").status_code == 200


def cursor_of(position):
    import base64

    return base64.b64encode(f"p={position}".encode()).decode()


@pytest.mark.parametrize(
    ("url", "position"),
    [
        # Jobs and reports are ordered by a date, students by text.
        ("/api/v1/jobs/", "2026"),
        ("/api/v1/jobs/", "x"),
        ("/api/v1/jobs/", "\x00"),
        ("/api/v1/reports/", "2026-13-01"),
        ("/api/v1/reports/", "\x00"),
        ("/api/v1/jobs/dead-letter/", "x"),
        ("/api/v1/students/", "\x00"),
        ("/api/v1/students/", "S-\x00"),
        ("/api/v1/webhooks/", "x"),
    ],
)
def test_a_cursor_with_a_position_of_the_wrong_kind_is_404(
    api, probe_job, student, url, position
):
    response = api.get(url, {"cursor": cursor_of(position)})
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"


def test_a_cursor_with_a_valid_position_still_pages(api, organisation, student):
    from assessments.models import Student

    Student.objects.create(organisation=organisation, external_id="S-002")
    response = api.get("/api/v1/students/", {"cursor": cursor_of("S-001")})
    assert response.status_code == 200
    assert [s["external_id"] for s in response.json()["results"]] == ["S-002"]


@pytest.mark.parametrize("depth", [900, 5000])
def test_deeply_nested_json_is_400(api, depth):
    response = post_raw(api, CALIBRATE, '{"a":' * depth + "1" + "}" * depth)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("key", ["\x00", "a\x00b", "tab\tkey", "line\x7f"])
def test_an_idempotency_key_with_control_characters_is_400(
    api, student, assessment, key
):
    response = api.post(
        SUBMIT,
        report_body(student, assessment),
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 400, response.content
    assert "Idempotency-Key" in response.json()


def test_a_non_ascii_idempotency_key_is_kept(api, student, assessment):
    # WSGI hands header bytes over as latin-1 text: UTF-8 bytes arrive as
    # their latin-1 reading and must still work as a key.
    key = "ключ-🙂".encode().decode("latin-1")
    body = report_body(student, assessment)
    first = api.post(SUBMIT, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = api.post(SUBMIT, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]


def test_a_notify_email_longer_than_a_delivery_holds_is_a_field_error(
    api, student, assessment
):
    from notifications.models import EmailDelivery

    longest = EmailDelivery._meta.get_field("recipient").max_length
    address = "a" * (longest - len("@example.org") + 1) + "@example.org"
    body = report_body(student, assessment, notify_email=address)
    response = api.post(SUBMIT, body, format="json")
    assert response.status_code == 400, response.content
    assert "notify_email" in response.json()


DEAD_REDIS_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        # Nothing listens on port 1: every cache call is refused at once.
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@override_settings(CACHES=DEAD_REDIS_CACHE)
def test_a_submission_is_accepted_while_the_throttle_cache_is_down(
    api, student, assessment
):
    # The cache is the broker's Redis in production: with it down the job is
    # still recorded, and the sweeper publishes it once Redis is back.
    response = api.post(SUBMIT, report_body(student, assessment), format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"


SUBMISSIONS = {
    "/api/v1/reports/submit/": lambda s, a: report_body(s, a),
    "/api/v1/reports/batch/": lambda s, a: {"assessment": str(a.pk)},
    "/api/v1/calibrations/": lambda s, a: {"method": "mml"},
    "/api/v1/exports/": lambda s, a: {"dataset": "responses", "format": "csv"},
    "/api/v1/notifications/bulk/": lambda s, a: {"subject": "Hello", "body": "Hi"},
}


@pytest.mark.parametrize("url", SUBMISSIONS)
@pytest.mark.parametrize("priority", ["5", True, 5.0, None, [5], 10, -1])
def test_priority_is_a_json_whole_number_on_every_submission(
    api, student, assessment, url, priority
):
    from assessments.models import Membership

    Membership.objects.update(role=Membership.Role.ADMIN)  # bulk e-mail needs it
    body = {**SUBMISSIONS[url](student, assessment), "priority": priority}
    response = api.post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert "priority" in response.json()


@pytest.mark.parametrize(
    "field, value", [("max_iter", "10"), ("max_iter", 2.5), ("tol", "1e-4")]
)
def test_calibration_numbers_are_json_numbers(api, field, value):
    response = api.post("/api/v1/calibrations/", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_batch_costs_the_same_queries_for_4_students_or_40(
    api, organisation, assessment
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from assessments.models import Student
    from jobs.models import Job
    from reports.models import Report

    students = [
        Student.objects.create(organisation=organisation, external_id=f"Q-{i}")
        for i in range(44)
    ]
    counts = []
    for group in (students[:4], students[4:]):
        body = {
            "assessment": str(assessment.pk),
            "students": [str(s.pk) for s in group],
        }
        with CaptureQueriesContext(connection) as queries:
            response = api.post(BATCH, body, format="json")
        assert response.status_code == 202
        counts.append(len(queries))
        batch = Job.objects.get(pk=response.json()["id"])
        members = batch.children.order_by("created_at")
        assert members.count() == len(group)
        assert {m.kind for m in members} == {Job.Kind.REPORT}
        reports = Report.objects.filter(job__parent=batch)
        assert sorted(r.student_id for r in reports) == sorted(s.pk for s in group)
        assert all(str(r.pk) == r.job.params["report"] for r in reports)
    assert counts[0] == counts[1]
