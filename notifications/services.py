"""Sending e-mail with one record per recipient, so nobody is mailed twice."""

import logging
import smtplib

from django.conf import settings
from django.core import mail
from django.utils import timezone

from dreamseed.exceptions import PermanentJobError, TransientJobError

from .models import EmailDelivery

logger = logging.getLogger(__name__)


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
            f"Download it from the DreamSeed API: /api/v1/reports/{report.pk}/pdf/\n"
        )
        return subject, body
    if template == "message":
        return job.params["subject"], job.params["body"]
    raise PermanentJobError(f"unknown e-mail template {template!r}")


def send_job_emails(job, progress=None):
    """Send the job's message to each recipient not yet mailed.

    One SMTP connection serves the whole batch. A recipient the server
    refuses is recorded as failed with the reason; a connection failure is
    transient and the job is retried, skipping those already sent.
    """
    progress = progress or (lambda percent, step=None: None)
    recipients = list(dict.fromkeys(job.params.get("to", [])))
    for address in recipients:
        EmailDelivery.objects.get_or_create(job=job, recipient=address)
    pending = list(
        EmailDelivery.objects.filter(job=job, status=EmailDelivery.Status.PENDING)
    )
    sent = failed = 0
    try:
        with mail.get_connection(fail_silently=False) as connection:
            for index, delivery in enumerate(pending, start=1):
                subject, body = compose(job, delivery.recipient)
                message = mail.EmailMessage(
                    subject,
                    body,
                    settings.DEFAULT_FROM_EMAIL,
                    [delivery.recipient],
                    connection=connection,
                )
                delivery.attempts += 1
                try:
                    message.send()
                except smtplib.SMTPRecipientsRefused as exc:
                    delivery.status = EmailDelivery.Status.FAILED
                    delivery.reason = str(exc.recipients.get(delivery.recipient, exc))
                    failed += 1
                else:
                    delivery.status = EmailDelivery.Status.SENT
                    delivery.sent_at = timezone.now()
                    sent += 1
                delivery.save()
                progress(100 * index / len(pending), "sending")
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
        raise TransientJobError(f"mail server unavailable: {exc}") from exc

    counts = {
        status: EmailDelivery.objects.filter(job=job, status=status).count()
        for status in EmailDelivery.Status.values
    }
    logger.info("job %s e-mail: %s sent now, %s failed now", job.pk, sent, failed)
    if counts["failed"] and not counts["sent"]:
        raise PermanentJobError(f"No recipient accepted the message ({counts['failed']} refused).")
    return {"recipients": len(recipients), **counts}
