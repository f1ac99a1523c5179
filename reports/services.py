"""Submitting, building and rendering student reports."""

import hashlib
import json
import logging
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from assessments.models import Response
from calibration.models import AbilityEstimate, ItemParameter
from calibration.scoring import eap_trajectory
from calibration.services import current_run
from jobs.models import Job
from jobs.services import JOBS_PER_INSERT, create_job, create_jobs

from .exceptions import (
    ReportError,
    ReportStorageError,
    ReportTemplateError,
    ReportTimeout,
)
from .models import Report, ReportType

logger = logging.getLogger(__name__)


def template_path(report_type):
    """Return the template of a report type from the fixed list."""
    if report_type not in ReportType.values:
        raise ReportError(f"unknown report type {report_type!r}")
    return settings.REPORTS_TEMPLATE_DIR / f"{ReportType(report_type).value}.qmd"


def submit_report(
    *,
    organisation,
    student,
    assessment,
    report_type=ReportType.COMPREHENSIVE,
    priority=None,
    user=None,
    notify_email="",
    parent=None,
    idempotency=None,
):
    """Record a report and its job; the job is published on commit."""
    # The report's id is chosen first so the job is written once, complete.
    report_id = uuid.uuid4()
    params = {"report": str(report_id)}
    if notify_email:
        params["notify_email"] = notify_email
    job = create_job(
        organisation=organisation,
        kind=Job.Kind.REPORT,
        params=params,
        priority=priority,
        submitted_by=user,
        parent=parent,
        **(idempotency or {}),
    )
    Report.objects.create(
        id=report_id,
        organisation=organisation,
        student=student,
        assessment=assessment,
        report_type=report_type,
        job=job,
    )
    return job


def submit_batch(
    *,
    organisation,
    assessment,
    students,
    report_type=ReportType.COMPREHENSIVE,
    priority=None,
    user=None,
    idempotency=None,
):
    """Record one batch job with a report job per student."""
    students = list(students)
    batch = create_job(
        organisation=organisation,
        kind=Job.Kind.REPORT_BATCH,
        params={
            "assessment": str(assessment.pk),
            "report_type": report_type,
            "size": len(students),
        },
        priority=priority,
        submitted_by=user,
        publish=False,
        **(idempotency or {}),
    )
    # Written together: a report and its job per student, in two INSERTs
    # (of a few hundred rows each) rather than two per student.
    report_ids = [uuid.uuid4() for _ in students]
    jobs = create_jobs(
        organisation=organisation,
        kind=Job.Kind.REPORT,
        params_list=[{"report": str(report_id)} for report_id in report_ids],
        priority=priority,
        submitted_by=user,
        parent=batch,
    )
    Report.objects.bulk_create(
        [
            Report(
                id=report_id,
                organisation=organisation,
                student=student,
                assessment=assessment,
                report_type=report_type,
                job=job,
            )
            for report_id, student, job in zip(report_ids, students, jobs, strict=True)
        ],
        batch_size=JOBS_PER_INSERT,
    )
    return batch


def build_report_data(report):
    """Collect everything a report shows, from the database."""
    student = report.student
    assessment = report.assessment
    run = current_run(report.organisation)
    responses = list(
        Response.objects.filter(student=student, assessment=assessment)
        .select_related("item")
        .order_by("position")
    )
    params = {}
    ability = None
    if run is not None:
        params = {
            p.item_id: p
            for p in ItemParameter.objects.filter(
                run=run, item_id__in=[r.item_id for r in responses]
            )
        }
        estimate = AbilityEstimate.objects.filter(run=run, student=student).first()
        if estimate is not None:
            ability = {"theta": estimate.theta, "se": estimate.se}

    thetas = [None] * len(responses)
    ses = [None] * len(responses)
    # The trajectory needs parameters for every item answered so far; it
    # stops at the first item the run did not calibrate.
    calibrated = 0
    while calibrated < len(responses) and responses[calibrated].item_id in params:
        calibrated += 1
    if calibrated:
        head = responses[:calibrated]
        theta, se = eap_trajectory(
            [params[r.item_id].discrimination for r in head],
            [params[r.item_id].difficulty for r in head],
            [int(r.correct) for r in head],
        )
        thetas[:calibrated] = [round(float(t), 4) for t in theta]
        ses[:calibrated] = [round(float(s), 4) for s in se]

    correct = sum(r.correct for r in responses)
    return {
        "report_type": report.report_type,
        "generated_at": timezone.now().isoformat(),
        "organisation": {"name": report.organisation.name},
        "student": {
            "id": str(student.pk),
            "external_id": student.external_id,
            "name": student.name or student.external_id,
        },
        "assessment": {
            "id": str(assessment.pk),
            "name": assessment.name,
            "code": assessment.code,
        },
        "calibration": None
        if run is None
        else {
            "run_id": str(run.pk),
            "method": run.method,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        },
        "ability": ability,
        "summary": {
            "items_answered": len(responses),
            "correct": correct,
            "accuracy": round(correct / len(responses), 4) if responses else None,
        },
        "trajectory": [
            {
                "position": r.position,
                "item_code": r.item.code,
                "correct": r.correct,
                "theta": thetas[i],
                "se": ses[i],
            }
            for i, r in enumerate(responses)
        ],
        "items": [
            {
                "position": r.position,
                "item_code": r.item.code,
                "discrimination": params[r.item_id].discrimination
                if r.item_id in params
                else None,
                "difficulty": params[r.item_id].difficulty
                if r.item_id in params
                else None,
                "correct": r.correct,
                "answered_at": r.answered_at.isoformat(),
            }
            for r in responses
        ],
    }


def data_hash(data):
    """Hash the report data, ignoring when it was collected."""
    stable = {k: v for k, v in data.items() if k != "generated_at"}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


def _set_status(report, status, **fields):
    Report.objects.filter(pk=report.pk).update(status=status, **fields)


def render(report, progress=None, checkpoint=None):
    """Render, store and record one report; reuse an identical earlier PDF.

    ``checkpoint()`` is called between the render's cells and steps, so that
    a cancelled job stops there.
    """
    from reports import rendering

    progress = progress or (lambda percent, step=None: None)
    _set_status(report, Report.Status.RUNNING, error="")

    progress(5, "fetching data")
    data = build_report_data(report)

    progress(20, "preparing")
    template = template_path(report.report_type)
    engine = rendering.select_engine(settings.REPORTS_ENGINE)
    version = f"{engine}:{rendering.template_version(template)}"
    digest = data_hash(data)
    earlier = (
        Report.objects.filter(
            organisation=report.organisation,
            report_type=report.report_type,
            template_version=version,
            data_hash=digest,
            status=Report.Status.SUCCEEDED,
        )
        .exclude(pk=report.pk)
        .exclude(pdf="")
        .first()
    )
    if earlier is not None and earlier.pdf.storage.exists(earlier.pdf.name):
        logger.info("report %s reuses the PDF of report %s", report.pk, earlier.pk)
        _set_status(
            report,
            Report.Status.SUCCEEDED,
            pdf=earlier.pdf.name,
            pdf_size=earlier.pdf_size,
            pdf_sha256=earlier.pdf_sha256,
            engine=earlier.engine,
            template_version=version,
            data_hash=digest,
            reused=True,
            render_seconds=0.0,
            finished_at=timezone.now(),
        )
        return _summary(report.pk)

    progress(30, "rendering")
    try:
        result = rendering.render_report(
            template,
            data,
            engine=engine,
            timeout_seconds=settings.REPORTS_RENDER_TIMEOUT_SECONDS,
            checkpoint=checkpoint,
        )
    except rendering.RenderTimeout as exc:
        raise ReportTimeout(
            "Rendering took longer than its limit of "
            f"{settings.REPORTS_RENDER_TIMEOUT_SECONDS} s and was stopped."
        ) from exc
    except rendering.RenderError as exc:
        raise ReportTemplateError(str(exc)) from exc

    progress(85, "storing")
    report.refresh_from_db()
    try:
        # Saving under the same name on a repeated run replaces the file.
        if report.pdf:
            report.pdf.delete(save=False)
        report.pdf.save("report.pdf", ContentFile(result.pdf), save=False)
    except OSError as exc:
        raise ReportStorageError(f"Could not store the PDF: {exc}") from exc
    _set_status(
        report,
        Report.Status.SUCCEEDED,
        pdf=report.pdf.name,
        pdf_size=len(result.pdf),
        pdf_sha256=hashlib.sha256(result.pdf).hexdigest(),
        engine=result.engine,
        template_version=version,
        data_hash=digest,
        reused=False,
        render_seconds=result.seconds,
        finished_at=timezone.now(),
    )
    logger.info(
        "report %s rendered by %s in %.2f s", report.pk, result.engine, result.seconds
    )
    return _summary(report.pk)


def _summary(report_id):
    report = Report.objects.get(pk=report_id)
    return {
        "report": str(report.pk),
        "pdf_size": report.pdf_size,
        "pdf_sha256": report.pdf_sha256,
        "engine": report.engine,
        "reused": report.reused,
    }


def mark_failed(report_id, message, status=Report.Status.FAILED):
    Report.objects.filter(pk=report_id).update(
        status=status, error=message, finished_at=timezone.now()
    )


def follow_with_email(job, report_id):
    """Create the job's "report is ready" e-mail step, once."""
    address = job.params.get("notify_email")
    if not address:
        return None
    with transaction.atomic():
        existing = job.children.filter(kind=Job.Kind.EMAIL).first()
        if existing is not None:
            return existing
        return create_job(
            organisation=job.organisation,
            kind=Job.Kind.EMAIL,
            params={"template": "report_ready", "report": report_id, "to": [address]},
            priority=job.priority,
            submitted_by=job.submitted_by,
            parent=job,
        )
