"""E-mail through a real SMTP server on 127.0.0.1: counts, refusals, drops."""

import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from assessments.models import Assessment, Item, Membership, Response, Student
from jobs.models import Job
from jobs.services import publish_job, requeue_job
from notifications.models import EmailDelivery
from notifications.services import send_job_emails, submit_bulk_email
from tests.conftest import free_port, wait_for, wait_for_job

from .servers import RecordingHandler, SMTPServer

pytestmark = pytest.mark.integration

TEACHERS = [f"teacher{i}@school.example" for i in range(5)]


@pytest.fixture
def teachers(organisation):
    users = get_user_model().objects
    for index, address in enumerate(TEACHERS):
        user = users.create_user(f"t{index}", email=address)
        Membership.objects.create(user=user, organisation=organisation)
    # No address: skipped. An admin: not a teacher.
    Membership.objects.create(
        user=users.create_user("noaddress"), organisation=organisation
    )
    Membership.objects.create(
        user=users.create_user("head", email="head@school.example"),
        organisation=organisation,
        role=Membership.Role.ADMIN,
    )
    return TEACHERS


@pytest.fixture
def admin_api(api, user):
    Membership.objects.filter(user=user).update(role=Membership.Role.ADMIN)
    return api


def submit(organisation, audience="teachers"):
    with transaction.atomic():
        return submit_bulk_email(
            organisation=organisation,
            subject="Staff meeting",
            body="Thursday, 4 pm. Müller brings cake.",
            audience=audience,
        )


def use_smtp(settings, server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port


def test_bulk_api_mails_every_teacher_once_over_one_connection(
    teachers, admin_api, worker_factory
):
    with SMTPServer(RecordingHandler()) as smtp:
        worker_factory(env=smtp.env, queues=["emails"])
        response = admin_api.post(
            "/api/v1/notifications/bulk/",
            {"subject": "Staff meeting", "body": "Thursday.", "audience": "teachers"},
            format="json",
        )
        assert response.status_code == 202, response.data
        job = wait_for_job(response.data["id"])

        assert job.status == Job.Status.SUCCEEDED, job.error
        assert job.result == {"recipients": 5, "pending": 0, "sent": 5, "failed": 0}
        assert sorted(smtp.handler.recipients) == sorted(teachers)
        assert {m["subject"] for m in smtp.handler.messages} == {"Staff meeting"}
        assert len(smtp.handler.connections) == 1, "one SMTP connection per batch"

        # A redelivered batch (the job queued and published again) mails nobody.
        Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)
        publish_job(job.pk)
        wait_for_job(job.pk)
        assert len(smtp.handler.messages) == 5


def test_bulk_api_validates_and_is_for_administrators(teachers, api, user):
    response = api.post(
        "/api/v1/notifications/bulk/", {"subject": "x", "body": "y"}, format="json"
    )
    assert response.status_code == 403
    assert response.data["code"] == "not_organisation_admin"

    Membership.objects.filter(user=user).update(role=Membership.Role.ADMIN)
    response = api.post(
        "/api/v1/notifications/bulk/",
        {"subject": "two\nlines", "audience": "parents"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.data) >= {"subject", "body", "audience"}


def test_refused_recipient_is_a_visible_partial_failure(
    organisation, teachers, worker_factory, api, other_api
):
    refused = teachers[2]
    with SMTPServer(RecordingHandler(refuse=[refused])) as smtp:
        worker_factory(env=smtp.env, queues=["emails"])
        job = wait_for_job(submit(organisation).pk)

        assert job.status == Job.Status.FAILED
        assert job.error_code == "recipients_failed"
        assert "1 of 5 recipients failed" in job.error and refused in job.error
        assert job.result == {"recipients": 5, "pending": 0, "sent": 4, "failed": 1}
        delivery = EmailDelivery.objects.get(job=job, recipient=refused)
        assert delivery.status == EmailDelivery.Status.FAILED
        assert delivery.reason.startswith("550")
        assert sorted(smtp.handler.recipients) == sorted(set(teachers) - {refused})
        response = api.get(f"/api/v1/notifications/jobs/{job.pk}/deliveries/")
        assert response.status_code == 200, response.content
        listed = response.json()
        outcomes = {row["recipient"]: row["status"] for row in listed["results"]}
        assert outcomes == {t: "failed" if t == refused else "sent" for t in teachers}
        url = f"/api/v1/notifications/jobs/{job.pk}/deliveries/"
        assert other_api.get(url).status_code == 404

        # Requeued, the job mails nobody again and still reports the refusal.
        requeue_job(job)
        job = wait_for(
            lambda: Job.objects.filter(
                pk=job.pk, status=Job.Status.FAILED, attempts=1
            ).first(),
            message="the requeued job to end",
        )
        assert len(smtp.handler.messages) == 4
        assert job.result["failed"] == 1


def test_dropped_connection_is_retried_without_resending(
    organisation, teachers, worker_factory
):
    with SMTPServer(RecordingHandler(drop_after=2)) as smtp:
        worker_factory(env=smtp.env, queues=["emails"])
        job = wait_for_job(submit(organisation).pk)

        assert smtp.handler.dropped
        assert job.status == Job.Status.SUCCEEDED, job.error
        assert job.attempts == 2, "the drop made the first attempt fail"
        assert sorted(smtp.handler.recipients) == sorted(teachers), "each once"
        assert len(smtp.handler.connections) == 2


def test_sending_twice_in_process_sends_once(organisation, teachers, settings):
    with SMTPServer(RecordingHandler()) as smtp:
        use_smtp(settings, smtp)
        job = submit(organisation, audience="members")
        first = send_job_emails(job)
        second = send_job_emails(job)
    assert first == second == {"recipients": 6, "pending": 0, "sent": 6, "failed": 0}
    assert len(smtp.handler.messages) == 6


def test_command_queues_a_bulk_email(organisation, teachers, capsys):
    call_command(
        "send_bulk_email",
        organisation="springfield",
        subject="Hello",
        body="Body",
        audience="admins",
    )
    job = Job.objects.get(kind=Job.Kind.BULK_EMAIL)
    assert job.params["to"] == ["head@school.example"]
    with pytest.raises(CommandError):
        call_command("send_bulk_email", organisation="nowhere", subject="a", body="b")


def test_report_ready_email_end_to_end(organisation, api, worker_factory):
    student = Student.objects.create(organisation=organisation, external_id="S-1")
    assessment = Assessment.objects.create(
        organisation=organisation, code="A1", name="Maths"
    )
    item = Item.objects.create(organisation=organisation, code="I1")
    from django.utils import timezone

    Response.objects.create(
        organisation=organisation,
        student=student,
        assessment=assessment,
        item=item,
        correct=True,
        answered_at=timezone.now(),
        position=1,
    )
    with SMTPServer(RecordingHandler()) as smtp:
        worker_factory(env=smtp.env)
        response = api.post(
            "/api/v1/reports/submit/",
            {
                "student": str(student.pk),
                "assessment": str(assessment.pk),
                "notify_email": "parent@home.example",
            },
            format="json",
        )
        assert response.status_code == 202, response.data
        report_job = wait_for_job(response.data["id"])
        assert report_job.status == Job.Status.SUCCEEDED, report_job.error
        email_job = wait_for(
            lambda: report_job.children.filter(kind=Job.Kind.EMAIL).first(),
            message="the e-mail job",
        )
        email_job = wait_for_job(email_job.pk)

        assert email_job.status == Job.Status.SUCCEEDED, email_job.error
        assert smtp.handler.recipients == ["parent@home.example"]
        assert smtp.handler.messages[0]["subject"] == "Report ready: S-1"
        link = (
            f"http://localhost:8000/api/v1/reports/{report_job.result['report']}/pdf/"
        )
        assert link.encode() in smtp.handler.messages[0]["body"], (
            "a link people can use"
        )


@pytest.mark.parametrize(
    ("subject", "body", "message"),
    [
        ("Hello\rBcc: x@example.org", "Body", "one line"),
        ("Hello\x00", "Body", "Null characters"),
        ("Hello", "Body\x00", "Null characters"),
        ("x" * 201, "Body", "no more than 200"),
        ("Hello", "b" * 50_001, "no more than 50000"),
        ("", "Body", "blank"),
    ],
)
def test_command_checks_what_the_api_checks(
    organisation, teachers, subject, body, message
):
    with pytest.raises(CommandError, match=message):
        call_command(
            "send_bulk_email",
            organisation="springfield",
            subject=subject,
            body=body,
        )
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "separator", ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1e", "\x85", "\u2028", "\x01"]
)
def test_a_subject_with_any_line_break_or_control_character_is_refused(
    teachers, admin_api, separator
):
    # Python's e-mail package treats all of these as line ends, so a subject
    # holding one would fail at sending time (or be cut short) if accepted.
    response = admin_api.post(
        "/api/v1/notifications/bulk/",
        {"subject": f"Hello{separator}Bcc: x@example.org", "body": "Body"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "subject" in response.json()
    assert not Job.objects.exists()


def test_a_report_ready_subject_from_imported_data_is_sent_on_one_line(
    organisation, settings
):
    from jobs.services import create_job
    from reports.models import Report

    # External ids are imported, not checked by the API.
    student = Student.objects.create(organisation=organisation, external_id="S\x0b1")
    assessment = Assessment.objects.create(organisation=organisation, code="A")
    report = Report.objects.create(
        organisation=organisation, student=student, assessment=assessment
    )
    with transaction.atomic():
        job = create_job(
            organisation=organisation,
            kind=Job.Kind.EMAIL,
            params={
                "template": "report_ready",
                "report": str(report.pk),
                "to": ["parent@home.example"],
            },
            publish=False,
        )
    with SMTPServer(RecordingHandler()) as smtp:
        use_smtp(settings, smtp)
        result = send_job_emails(job)
    assert result["sent"] == 1, result
    assert smtp.handler.messages[0]["subject"] == "Report ready: S 1"


def login_answering(code, text):
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False, message=f"{code} {text}")

    return authenticator


def test_a_refused_login_fails_the_job_at_once_and_says_what_to_check(
    organisation, teachers, settings
):
    from dreamseed.exceptions import PermanentJobError

    with SMTPServer(
        RecordingHandler(), authenticator=login_answering(535, "5.7.8 Bad credentials")
    ) as smtp:
        use_smtp(settings, smtp)
        settings.EMAIL_HOST_USER = "mailer"
        settings.EMAIL_HOST_PASSWORD = "wrong"
        job = submit(organisation)
        with pytest.raises(PermanentJobError) as error:
            send_job_emails(job)
    assert str(error.value) == (
        "the mail server refused the login (535): "
        "check EMAIL_HOST_USER and EMAIL_HOST_PASSWORD"
    )
    assert smtp.handler.messages == []


def test_a_temporary_login_failure_is_retried(organisation, teachers, settings):
    from dreamseed.exceptions import TransientJobError

    with SMTPServer(
        RecordingHandler(), authenticator=login_answering(454, "4.7.0 Try later")
    ) as smtp:
        use_smtp(settings, smtp)
        settings.EMAIL_HOST_USER = "mailer"
        settings.EMAIL_HOST_PASSWORD = "whatever"
        job = submit(organisation)
        with pytest.raises(TransientJobError, match=r"for now \(454\)"):
            send_job_emails(job)
    assert smtp.handler.messages == []


def test_without_a_mail_server_the_job_fails_saying_so(
    organisation, teachers, settings
):
    from dreamseed.exceptions import PermanentJobError
    from notifications.models import EmailDelivery

    settings.EMAIL_BACKEND = "notifications.backends.NoMailServerBackend"
    job = submit(organisation)
    with pytest.raises(PermanentJobError, match="no mail server is configured"):
        send_job_emails(job)
    assert not EmailDelivery.objects.filter(
        job=job, status=EmailDelivery.Status.SENT
    ).exists()


def test_production_settings_without_a_mail_server_refuse_to_send():
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "DJANGO_SETTINGS_MODULE": "dreamseed.settings",
        "DJANGO_SECRET_KEY": "x" * 50,
    }
    env.pop("EMAIL_HOST", None)
    env.pop("EMAIL_BACKEND", None)
    code = "from django.conf import settings; print(settings.EMAIL_BACKEND)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert done.stdout.strip() == "notifications.backends.NoMailServerBackend"


def test_recipients_of_a_job_that_gave_up_say_not_sent_and_a_requeue_mails_them(
    organisation, teachers, worker_factory
):
    closed = free_port()
    worker = worker_factory(
        env={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(closed)},
        queues=["emails"],
    )
    job = wait_for_job(submit(organisation).pk, timeout=60)
    assert (job.status, job.dead_letter) == (Job.Status.FAILED, True), job.error
    # Marked just after the outcome is written, by the job's end signal.
    wait_for(
        lambda: (
            not EmailDelivery.objects.filter(
                job=job, status=EmailDelivery.Status.PENDING
            ).exists()
        ),
        timeout=10,
        message="the deliveries to be closed",
    )
    deliveries = list(EmailDelivery.objects.filter(job=job))
    assert sorted(d.recipient for d in deliveries) == sorted(teachers)
    for delivery in deliveries:
        assert delivery.status == EmailDelivery.Status.NOT_SENT
        assert delivery.reason == f"Not sent: {job.error}"
        assert delivery.sent_at is None

    # Once the mail server is there, requeueing the job mails each of them.
    worker.stop()
    with SMTPServer(RecordingHandler()) as smtp:
        worker_factory(env=smtp.env, queues=["emails"])
        requeue_job(job)
        job = wait_for(
            lambda: (
                Job.objects.filter(pk=job.pk, status__in=Job.TERMINAL).first()
                if not Job.objects.filter(pk=job.pk, status=Job.Status.FAILED)
                .filter(dead_letter=True)
                .exists()
                else None
            ),
            timeout=60,
            message="the requeued job to end",
        )
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert sorted(smtp.handler.recipients) == sorted(teachers)
    assert set(
        EmailDelivery.objects.filter(job=job).values_list("status", flat=True)
    ) == {EmailDelivery.Status.SENT}
