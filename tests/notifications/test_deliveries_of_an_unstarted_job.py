"""A mail job cancelled before it ran lists each recipient as not sent."""

import pytest

from jobs.models import Job
from notifications.models import EmailDelivery


@pytest.fixture
def admin_api(api, user, organisation):
    from tests.conftest import make_user

    user.email = "head@example.org"
    user.save(update_fields=["email"])
    user.membership.role = "admin"
    user.membership.save(update_fields=["role"])
    other = make_user(organisation, "deputy")
    other.email = "deputy@example.org"
    other.save(update_fields=["email"])
    other.membership.role = "admin"
    other.membership.save(update_fields=["role"])
    return api


def test_recipients_of_a_job_cancelled_while_queued_say_not_sent(admin_api):
    submitted = admin_api.post(
        "/api/v1/notifications/bulk/",
        {"subject": "Staff meeting", "body": "At four.", "audience": "admins"},
        format="json",
    )
    assert submitted.status_code == 202, submitted.json()
    job_id = submitted.json()["id"]
    cancelled = admin_api.post(f"/api/v1/jobs/{job_id}/cancel/")
    assert cancelled.status_code in (200, 202), cancelled.json()
    assert Job.objects.get(pk=job_id).status == Job.Status.CANCELLED

    answer = admin_api.get(f"/api/v1/notifications/jobs/{job_id}/deliveries/")
    assert answer.status_code == 200
    rows = answer.json()["results"]
    assert sorted((row["recipient"], row["status"]) for row in rows) == [
        ("deputy@example.org", EmailDelivery.Status.NOT_SENT),
        ("head@example.org", EmailDelivery.Status.NOT_SENT),
    ]
    assert {row["reason"] for row in rows} == {"Not sent: Cancelled before it started."}
    assert {row["attempts"] for row in rows} == {0}
