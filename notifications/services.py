"""Sending e-mail with one record per recipient, so nobody is mailed twice;
queueing and delivering webhooks when jobs end."""

import logging
import smtplib
import threading
import time
import unicodedata

from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from dreamseed.backoff import capped_backoff
from dreamseed.exceptions import PermanentJobError, TransientJobError
from jobs.models import Job
from jobs.services import create_job

from . import webhooks
from .models import EmailDelivery, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)


class RecipientsFailed(PermanentJobError):
    """Some recipients were refused: the job ends failed with per-recipient detail."""

    code = "recipients_failed"


# --- E-mail -------------------------------------------------------------------


def breaks_header(text):
    """Whether ``text`` holds a character that would end or corrupt a header line.

    Python's e-mail package splits header values wherever ``str.splitlines``
    does (not only at CR and LF, but also at VT, FF, FS-RS, NEL and the
    Unicode line and paragraph separators), and a header that seems to hold
    another header fails to send.
    """
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def one_line(text):
    """``text`` with every character that ``breaks_header`` finds made a space."""
    return "".join(
        " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char
        for char in text
    )


def compose(job, recipient):
    """Return (subject, body) of the job's message for one recipient."""
    template = job.params.get("template")
    if template == "report_ready":
        from reports.models import Report

        report = Report.objects.select_related("student").get(
            pk=job.params["report"], organisation=job.organisation
        )
        subject = f"Report ready: {report.student.external_id}"
        body = (
            f"The {report.get_report_type_display().lower()} report for "
            f"{report.student.external_id} is ready.\n\n"
            "Download it from the DreamSeed API (with your token): "
            f"{settings.DREAMSEED_BASE_URL}"
            f"{reverse('report-pdf', args=[report.pk])}\n"
        )
        return subject, body
    if template == "message":
        return job.params["subject"], job.params["body"]
    raise PermanentJobError(f"unknown e-mail template {template!r}")


def _counts(job):
    Status = EmailDelivery.Status
    counts = dict.fromkeys([Status.PENDING, Status.SENT, Status.FAILED], 0)
    for row in EmailDelivery.objects.filter(job=job).values("status"):
        # While the job runs, one not sent by an earlier run is still to send.
        status = Status.PENDING if row["status"] == Status.NOT_SENT else row["status"]
        counts[status] += 1
    return {str(status): count for status, count in counts.items()}


def send_job_emails(job, progress=None):
    """Send the job's message to each recipient not yet mailed.

    One SMTP connection serves the whole batch and each recipient's outcome
    is saved as soon as it is known, so a retry sends only to the pending.
    A recipient the server refuses for good (5xx) is recorded as failed with
    the reason; a temporary refusal (4xx) or a lost connection leaves the
    rest pending and the job is retried. If any recipient failed, the job
    fails with the counts in its result, so partial failure is never shown
    as success.
    """
    progress = progress or (lambda percent, step=None: None)
    recipients = list(dict.fromkeys(job.params.get("to", [])))
    EmailDelivery.objects.bulk_create(
        [EmailDelivery(job=job, recipient=address) for address in recipients],
        ignore_conflicts=True,
    )
    # Not sent: left by an earlier run of the job that ended unsuccessfully
    # (the job was requeued since).
    pending = list(
        EmailDelivery.objects.filter(
            job=job,
            status__in=[EmailDelivery.Status.PENDING, EmailDelivery.Status.NOT_SENT],
        ).order_by("id")
    )
    sent = failed = deferred = 0
    if pending:
        try:
            with mail.get_connection(fail_silently=False) as connection:
                for index, delivery in enumerate(pending, start=1):
                    outcome = _send_one(job, delivery, connection)
                    sent += outcome == EmailDelivery.Status.SENT
                    failed += outcome == EmailDelivery.Status.FAILED
                    deferred += outcome == EmailDelivery.Status.PENDING
                    progress(100 * index / len(pending), "sending")
        except smtplib.SMTPAuthenticationError as exc:
            # A refused login (535) does not mend itself: retrying would only
            # delay the failure. A temporary one (454) is worth a retry.
            if exc.smtp_code >= 500:
                raise PermanentJobError(
                    f"the mail server refused the login ({exc.smtp_code}): "
                    "check EMAIL_HOST_USER and EMAIL_HOST_PASSWORD"
                ) from exc
            raise TransientJobError(
                f"the mail server could not log in for now ({exc.smtp_code})"
            ) from exc
        except (
            smtplib.SMTPServerDisconnected,
            smtplib.SMTPConnectError,
            OSError,
        ) as exc:
            # The SMTPException subclasses a recipient can cause are handled
            # in _send_one; what is left here is the connection itself.
            logger.warning(
                "job %s e-mail: connection lost after %s sent now", job.pk, sent
            )
            raise TransientJobError(f"mail server unavailable: {exc}") from exc

    counts = _counts(job)
    result = {"recipients": len(recipients), **counts}
    logger.info(
        "job %s e-mail: %s sent, %s failed, %s deferred now",
        job.pk,
        sent,
        failed,
        deferred,
    )
    if counts["pending"]:
        raise TransientJobError(
            f"{counts['pending']} recipients temporarily refused; retrying them"
        )
    if counts["failed"]:
        reasons = list(
            EmailDelivery.objects.filter(job=job, status=EmailDelivery.Status.FAILED)
            .order_by("recipient")
            .values_list("recipient", "reason")[:5]
        )
        detail = "; ".join(f"{address}: {reason}" for address, reason in reasons)
        raise RecipientsFailed(
            f"{counts['failed']} of {len(recipients)} recipients failed "
            f"({counts['sent']} sent). {detail}",
            result=result,
        )
    return result


def _send_one(job, delivery, connection):
    """Send to one recipient over ``connection``; save and return its status."""
    subject, body = compose(job, delivery.recipient)
    message = mail.EmailMessage(
        # Parts of a subject may come from imported data (a student's id).
        one_line(subject),
        body,
        settings.DEFAULT_FROM_EMAIL,
        [delivery.recipient],
        connection=connection,
    )
    delivery.attempts += 1
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        code, reason = _first_refusal(exc, delivery.recipient)
        _refused(delivery, code, reason)
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        if exc.smtp_code == 421:
            # 421: the server is closing the connection; retry the batch.
            delivery.save(update_fields=["attempts"])
            raise smtplib.SMTPServerDisconnected(str(exc))
        _refused(delivery, exc.smtp_code, exc.smtp_error)
    else:
        delivery.status = EmailDelivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.reason = ""
    delivery.save()
    return delivery.status


def _first_refusal(exc, recipient):
    code, reason = exc.recipients.get(recipient, (None, str(exc)))
    return code, reason


def _refused(delivery, code, reason):
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    delivery.reason = f"{code} {reason}".strip()[:1000]
    if code is not None and 400 <= code < 500:
        # Temporary: stays pending for the retry.
        delivery.status = EmailDelivery.Status.PENDING
    else:
        delivery.status = EmailDelivery.Status.FAILED


def organisation_recipients(organisation, audience):
    """E-mail addresses of the organisation's members in ``audience``."""
    from django.contrib.auth import get_user_model

    from assessments.models import Membership

    users = (
        get_user_model()
        .objects.filter(membership__organisation=organisation, is_active=True)
        .exclude(email="")
    )
    if audience == "teachers":
        users = users.filter(membership__role=Membership.Role.TEACHER)
    elif audience == "admins":
        users = users.filter(membership__role=Membership.Role.ADMIN)
    elif audience != "members":
        raise ValueError(
            f"unknown audience {audience!r}; use teachers, admins or members"
        )
    return sorted(
        {address.lower() for address in users.values_list("email", flat=True)}
    )


def submit_bulk_email(
    *, organisation, subject, body, audience, user=None, priority=None, idempotency=None
):
    """Record a bulk e-mail job to the organisation's members in ``audience``."""
    recipients = organisation_recipients(organisation, audience)
    return create_job(
        organisation=organisation,
        kind=Job.Kind.BULK_EMAIL,
        params={
            "template": "message",
            "subject": subject,
            "body": body,
            "audience": audience,
            "to": recipients,
        },
        priority=priority,
        submitted_by=user,
        **(idempotency or {}),
    )


# --- Webhooks -------------------------------------------------------------------

EVENTS_BY_STATUS = {
    Job.Status.SUCCEEDED: WebhookEndpoint.Event.JOB_SUCCEEDED,
    Job.Status.FAILED: WebhookEndpoint.Event.JOB_FAILED,
    Job.Status.CANCELLED: WebhookEndpoint.Event.JOB_CANCELLED,
}


def job_payload(job, event, delivery_id):
    return {
        "id": str(delivery_id),
        "event": event,
        "created_at": timezone.now().isoformat(),
        "job": {
            "id": str(job.pk),
            "kind": job.kind,
            "status": job.status,
            "organisation": str(job.organisation_id),
            "result": job.result,
            "error": job.error,
            "error_code": job.error_code,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        },
    }


class EndpointOwners:
    """The organisations that have an active webhook endpoint, re-read now and then.

    Every job's end asks whether its organisation has an endpoint, and most
    have none: a query per job took a fifth of a short job's CPU time. The
    answer is kept for ``WEBHOOKS_ENDPOINTS_REFRESH_SECONDS``, so a new
    endpoint hears of jobs that end at most that long after it was saved.
    Saving or deleting an endpoint in this process forgets the answer at once,
    and a deactivated endpoint is refused at delivery, so turning one off
    takes effect immediately everywhere.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._owners = frozenset()
        self._read_at = None

    def __contains__(self, organisation_id):
        ttl = settings.WEBHOOKS_ENDPOINTS_REFRESH_SECONDS
        with self._lock:
            now = time.monotonic()
            if ttl <= 0 or self._read_at is None or now - self._read_at >= ttl:
                self._owners = frozenset(
                    WebhookEndpoint.objects.filter(active=True)
                    .values_list("organisation_id", flat=True)
                    .distinct()
                )
                self._read_at = now
            return organisation_id in self._owners

    def forget(self):
        with self._lock:
            self._read_at = None


ENDPOINT_OWNERS = EndpointOwners()


def queue_webhooks(job):
    """Record one delivery per interested endpoint; publish each on commit."""
    event = EVENTS_BY_STATUS.get(job.status)
    if event is None or job.organisation_id not in ENDPOINT_OWNERS:
        return []
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(
            organisation_id=job.organisation_id, active=True
        )
        if endpoint.wants(event)
    ]
    if not endpoints:
        return []
    created = []
    for endpoint in endpoints:
        # One transaction per delivery: an endpoint deleted at this moment
        # fails only its own row (its foreign key is checked at commit), not
        # the deliveries to the organisation's other endpoints.
        try:
            with transaction.atomic():
                delivery = WebhookDelivery(endpoint=endpoint, job=job, event=event)
                delivery.payload = job_payload(job, event, delivery.pk)
                delivery.save()
        except IntegrityError:
            logger.info("job %s: endpoint %s is gone; skipped", job.pk, endpoint.pk)
            continue
        created.append(delivery.pk)
    if created:
        from .tasks import deliver_webhook

        for delivery_id in created:
            transaction.on_commit(lambda pk=delivery_id: deliver_webhook.delay(str(pk)))
        logger.info("job %s: %s webhook deliveries queued", job.pk, len(created))
    return created


def webhook_backoff(attempt):
    """Seconds before a delivery's next attempt (capped exponential, jittered)."""
    return capped_backoff(
        attempt,
        settings.WEBHOOKS_RETRY_BACKOFF_SECONDS,
        settings.WEBHOOKS_RETRY_BACKOFF_MAX_SECONDS,
    )


class RetryWebhook(Exception):
    """The delivery failed in a way worth another attempt."""


def attempt_delivery(delivery_id):
    """Make one attempt; return the delivery, or raise RetryWebhook."""
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return delivery
    endpoint = delivery.endpoint
    delivery.attempts += 1
    delivery.last_attempt_at = timezone.now()
    retry = False
    if not endpoint.active:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.error = "The endpoint was deactivated."
    else:
        try:
            code, snippet = webhooks.post(
                endpoint.url,
                delivery.payload,
                secret=endpoint.secret,
                event=delivery.event,
                event_id=delivery.pk,
            )
        except webhooks.UnsafeTarget as exc:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.error = f"Refused target: {exc}"
        except OSError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"[:1000]
            retry = True
        else:
            delivery.status_code = code
            delivery.response_snippet = snippet[: webhooks.SNIPPET_BYTES]
            if 200 <= code < 300:
                delivery.status = WebhookDelivery.Status.SUCCEEDED
                delivery.delivered_at = timezone.now()
                delivery.error = ""
            elif code >= 500 or code in (408, 429):
                delivery.error = f"HTTP {code}"
                retry = True
            else:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.error = f"HTTP {code}: the receiver refused the event"
    if retry and delivery.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.error = f"Gave up after {delivery.attempts} attempts: {delivery.error}"
        retry = False
    delivery.save()
    if retry:
        raise RetryWebhook(delivery.error)
    logger.info(
        "webhook delivery %s %s after %s attempts",
        delivery.pk,
        delivery.status,
        delivery.attempts,
    )
    return delivery
