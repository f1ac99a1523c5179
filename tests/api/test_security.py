"""Authentication and organisation scoping on every endpoint."""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def api_patterns(resolver=None, prefix=""):
    """Yield (route, name, view class) for every URL of the API."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from api_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            if route.startswith("api/"):
                view = getattr(entry.callback, "view_class", None)
                yield route, entry.name, view


def methods_of(view):
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]


ROUTES = sorted(api_patterns())
PK_ROUTES = [r for r in ROUTES if "<uuid:pk>" in r[0]]


def _job(organisation):
    from jobs.models import Job

    return Job.objects.create(organisation=organisation, kind=Job.Kind.PROBE)


def _report(organisation):
    from assessments.models import Assessment, Student
    from reports.models import Report

    student = Student.objects.create(organisation=organisation, external_id="R-1")
    assessment = Assessment.objects.create(
        organisation=organisation, code="R-1", name="R"
    )
    return Report.objects.create(
        organisation=organisation,
        student=student,
        assessment=assessment,
        job=_job(organisation),
    )


def _calibration_run(organisation):
    from calibration.models import CalibrationRun

    return CalibrationRun.objects.create(
        organisation=organisation, job=_job(organisation), method="mml"
    )


def _export(organisation):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from exports.models import Export

    export = Export.objects.create(
        organisation=organisation,
        job=_job(organisation),
        dataset=Export.Dataset.RESPONSES,
        file_format=Export.Format.CSV,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    export.file.save("x.csv", ContentFile(b"\xef\xbb\xbfstudent\r\n"))
    return export


def _webhook_endpoint(organisation):
    from notifications.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(
        organisation=organisation, url="https://93.184.215.14/hook"
    )


# Every URL that takes a pk needs a way to make the object it names. A new
# endpoint missing here fails test_every_pk_route_is_covered: add it, and the
# scoping test then checks it.
OWNED_OBJECT = {
    "job-detail": _job,
    "job-cancel": _job,
    "report-detail": _report,
    "report-pdf": _report,
    "calibration-run-detail": _calibration_run,
    "export-download": _export,
    "email-deliveries": _job,
    "webhook-detail": _webhook_endpoint,
    "webhook-deliveries": _webhook_endpoint,
}


def test_every_pk_route_is_covered():
    assert PK_ROUTES, "no API route takes a pk: the pattern walk is broken"
    missing = [name for _, name, _ in PK_ROUTES if name not in OWNED_OBJECT]
    assert not missing, f"add an object factory for {missing}"


@pytest.mark.parametrize(
    ("route", "name", "view"), PK_ROUTES, ids=[r[1] for r in PK_ROUTES]
)
def test_another_organisations_object_is_404_for_every_method(
    route, name, view, organisation, api, other_api
):
    from assessments.models import Membership

    # Organisation administrators have the widest rights (webhooks need
    # them): scoping must hold even for another organisation's administrator.
    Membership.objects.update(role=Membership.Role.ADMIN)
    obj = OWNED_OBJECT[name](organisation)
    url = "/" + route.replace("<uuid:pk>", str(obj.pk))
    for method in methods_of(view):
        response = getattr(other_api, method)(url, {}, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    # The owner sees it: the 404 above is scoping, not a broken route.
    if "get" in methods_of(view) and name != "report-pdf":
        assert api.get(url).status_code == 200


@pytest.mark.parametrize(("route", "name", "view"), ROUTES, ids=[r[1] for r in ROUTES])
def test_unauthenticated_requests_are_refused_everywhere(route, name, view):
    client = APIClient()
    url = "/" + route.replace("<uuid:pk>", str(uuid.uuid4()))
    for method in methods_of(view):
        response = getattr(client, method)(url, {}, format="json")
        if name == "api-docs" and response.status_code == 302:
            # A page for browsers: the refusal is a sign-in page.
            assert response["Location"].startswith("/api-auth/login/?next=")
            continue
        assert response.status_code in (401, 403), (method, url)


@pytest.mark.parametrize(("route", "name", "view"), ROUTES, ids=[r[1] for r in ROUTES])
def test_a_bad_token_is_refused_everywhere(route, name, view):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    url = "/" + route.replace("<uuid:pk>", str(uuid.uuid4()))
    for method in methods_of(view):
        assert getattr(client, method)(url).status_code in (401, 403)


def test_session_auth_works_and_needs_csrf_for_writes(user, probe_job):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(f"/api/v1/jobs/{probe_job.pk}/").status_code == 200
    response = client.post(f"/api/v1/jobs/{probe_job.pk}/cancel/")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_user_without_organisation_is_refused(db):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    lonely = get_user_model().objects.create_user("lonely", password="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=lonely)}")
    assert client.get("/api/v1/jobs/").status_code == 403


def test_lists_show_only_the_callers_organisation(
    api, other_api, probe_job, student, other_student
):
    assert [j["id"] for j in other_api.get("/api/v1/jobs/").json()["results"]] == []
    assert [j["id"] for j in api.get("/api/v1/jobs/").json()["results"]] == [
        str(probe_job.pk)
    ]
    ids = [s["id"] for s in api.get("/api/v1/students/").json()["results"]]
    assert ids == [str(student.pk)]
    assert str(other_student.pk) not in str(other_api.get("/api/v1/reports/").json())


def test_schema_and_docs_need_authentication(api):
    anonymous = APIClient()
    assert anonymous.get("/api/v1/schema/").status_code == 401
    response = anonymous.get("/api/v1/docs/")
    assert response.status_code == 302
    assert response["Location"] == "/api-auth/login/?next=/api/v1/docs/"
    for url in ("/api/v1/schema/", "/api/v1/docs/"):
        assert api.get(url).status_code == 200, url
    # A bad token is an error, not a sign-in page.
    anonymous.credentials(HTTP_AUTHORIZATION="Token nonsense")
    assert anonymous.get("/api/v1/docs/").status_code == 401


def test_a_member_who_is_not_staff_signs_in_to_read_the_docs(user, client):
    assert not user.is_staff
    page = client.get("/api-auth/login/?next=/api/v1/docs/")
    assert page.status_code == 200
    response = client.post(
        "/api-auth/login/?next=/api/v1/docs/",
        {"username": user.username, "password": "pw-" + user.username},
    )
    assert response.status_code == 302 and response["Location"] == "/api/v1/docs/"
    assert client.get("/api/v1/docs/").status_code == 200
    assert client.get("/api/v1/schema/").status_code == 200
    # Signed in, the member sees the API as with a token: own data only.
    assert client.get("/api/v1/jobs/").status_code == 200
    assert client.get("/admin/jobs/job/").status_code == 302


def test_only_staff_reach_the_admin(user, client):
    client.force_login(user)
    response = client.get("/admin/jobs/job/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    user.is_staff = user.is_superuser = True
    user.save()
    assert client.get("/admin/jobs/job/").status_code == 200


def test_swagger_ui_is_served_from_this_server(api):
    from django.contrib.staticfiles import finders

    bundle = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    page = api.get("/api/v1/docs/").content.decode()
    assert "cdn.jsdelivr.net" not in page
    assert f"/static/{bundle}" in page
    assert finders.find(bundle)


def test_the_schema_says_how_to_send_the_token(api):
    schema = api.get("/api/v1/schema/?format=json").json()
    schemes = schema["components"]["securitySchemes"]
    assert any(
        s.get("type") == "apiKey" and s.get("name") == "Authorization"
        for s in schemes.values()
    ), schemes
