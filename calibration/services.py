"""Calibrating an organisation's item bank from the responses in the database."""

import io
import logging
import time

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from assessments.models import Item, Organisation, Response, Student
from dreamseed.exceptions import JobCancelled
from dreamseed.sql import analyze
from jobs.models import Job
from jobs.services import create_job

from .exceptions import (
    CalibrationInputError,
    CalibrationLocked,
    CalibrationNotConverged,
)
from .models import AbilityEstimate, CalibrationRun, ItemParameter

logger = logging.getLogger(__name__)

# Rows written per INSERT when storing parameters and abilities.
WRITE_BATCH_ROWS = 5000

METHODS = ("jmle", "mml")


def calibration_options(method=None, max_iter=None, tol=None):
    """Merge per-run overrides with the settings' defaults."""
    method = method or settings.CALIBRATION_DEFAULT_METHOD
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; use jmle or mml")
    return {
        "method": method,
        "max_iter": int(max_iter or settings.CALIBRATION_MAX_ITERATIONS),
        "tol": float(tol or settings.CALIBRATION_TOLERANCE),
    }


def submit_calibration(
    organisation, *, user=None, priority=None, idempotency=None, **options
):
    """Record a calibration job; it is published when the transaction commits."""
    return create_job(
        organisation=organisation,
        kind=Job.Kind.CALIBRATION,
        params=calibration_options(**options),
        priority=priority,
        submitted_by=user,
        **(idempotency or {}),
    )


def submit_all_calibrations():
    """Submit a calibration for every organisation with responses, once each.

    An organisation whose calibration is already queued or running is skipped,
    so a fan-out that runs twice does not double the work.
    """
    from assessments.models import Response

    submitted = 0
    org_ids = Response.objects.values_list("organisation_id", flat=True).distinct()
    for organisation in Organisation.objects.filter(pk__in=org_ids):
        with transaction.atomic():
            Organisation.objects.select_for_update().get(pk=organisation.pk)
            busy = Job.objects.filter(
                organisation=organisation,
                kind=Job.Kind.CALIBRATION,
                status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
            ).exists()
            if not busy:
                submit_calibration(organisation)
                submitted += 1
    return submitted


def parameter_table(run):
    """Return a run's item parameters as lines of a fixed-width table."""

    def cell(value):
        return "-" if value is None else f"{value:.3f}"

    lines = [f"{'item':<10}{'a':>9}{'b':>9}{'se(a)':>9}{'se(b)':>9}  flag"]
    for p in run.items.select_related("item").order_by("item__code"):
        lines.append(
            f"{p.item.code:<10}{p.discrimination:9.3f}{p.difficulty:9.3f}"
            f"{cell(p.se_discrimination):>9}{cell(p.se_difficulty):>9}  {p.flag}"
        )
    return lines


def current_run(organisation):
    """Return the organisation's latest successful run, or None."""
    return (
        CalibrationRun.objects.filter(
            organisation=organisation, status=CalibrationRun.Status.SUCCEEDED
        )
        .order_by("-finished_at")
        .first()
    )


_INDEXED_RESPONSES_SQL = """
SELECT si.idx, ii.idx, CASE WHEN r.correct THEN 1 ELSE 0 END
FROM assessments_response r
JOIN (
    SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS idx
    FROM assessments_student
    WHERE organisation_id = %(org)s
      AND id IN (
          SELECT student_id FROM assessments_response WHERE organisation_id = %(org)s
      )
) si ON si.id = r.student_id
JOIN (
    SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS idx
    FROM assessments_item
    WHERE organisation_id = %(org)s
      AND id IN (
          SELECT item_id FROM assessments_response WHERE organisation_id = %(org)s
      )
) ii ON ii.id = r.item_id
WHERE r.organisation_id = %(org)s
"""


# Rows changed since the last ANALYZE, as a share of the table, above which
# a calibration refreshes the statistics before reading.
STALE_STATISTICS_SHARE = 0.2


def _refresh_stale_statistics():
    """ANALYZE the response tables if much has changed since it last ran.

    With the statistics of near-empty tables, PostgreSQL planned the read of
    a million new answers as a nested loop over every student: 15 minutes
    instead of under a second. Autovacuum catches up in time when it is on;
    a calibration started right after a bulk load should not wait for it.
    """
    if connection.vendor != "postgresql":
        return
    tables = [m._meta.db_table for m in (Response, Student, Item)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) "
            "AND n_mod_since_analyze > GREATEST(1000, %s * n_live_tup)",
            [tables, STALE_STATISTICS_SHARE],
        )
        stale = [name for (name,) in cursor.fetchall()]
    if stale:
        logger.info("refreshing the statistics of %s", ", ".join(stale))
        analyze(stale)


def read_responses(organisation):
    """Read the organisation's responses as index triplets.

    Returns ``(student_ids, item_ids, person_idx, item_idx, correct)``: the
    ids in index order and three int arrays of length n_responses. Indices
    are computed by the database; on PostgreSQL the rows arrive through COPY
    and are parsed by numpy in chunks, so no Python object is made per row.
    """
    org = organisation.pk
    _refresh_stale_statistics()
    responded = {"responses__organisation": organisation}
    student_ids = list(
        Student.objects.filter(organisation=organisation, **responded)
        .distinct()
        .order_by("id")
        .values_list("id", flat=True)
    )
    item_ids = list(
        Item.objects.filter(organisation=organisation, **responded)
        .distinct()
        .order_by("id")
        .values_list("id", flat=True)
    )
    if connection.vendor == "postgresql":
        triplets = _copy_triplets(_INDEXED_RESPONSES_SQL, {"org": org})
    else:
        triplets = _fetch_triplets(_INDEXED_RESPONSES_SQL, {"org": org.hex})
    return student_ids, item_ids, triplets[:, 0], triplets[:, 1], triplets[:, 2]


def _parse_rows(buffer):
    if not buffer:
        return np.empty((0, 3), dtype=np.int64)
    return np.loadtxt(io.BytesIO(buffer), dtype=np.int64, delimiter="\t", ndmin=2)


def _copy_triplets(sql, params):
    chunk_bytes = 16 * 1024 * 1024
    parts = []
    pending = bytearray()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY ({sql}) TO STDOUT", params) as copy:
            for data in copy:
                pending += data
                if len(pending) >= chunk_bytes:
                    cut = pending.rfind(b"\n") + 1
                    parts.append(_parse_rows(bytes(pending[:cut])))
                    del pending[:cut]
    parts.append(_parse_rows(bytes(pending)))
    return np.concatenate(parts) if parts else np.empty((0, 3), dtype=np.int64)


def _fetch_triplets(sql, params):
    parts = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(settings.CALIBRATION_READ_CHUNK_ROWS):
            parts.append(np.asarray(rows, dtype=np.int64).reshape(-1, 3))
    return np.concatenate(parts) if parts else np.empty((0, 3), dtype=np.int64)


def _start_run(job, options):
    """Create (or reuse, on a repeated delivery) this job's run, under a lock."""
    with transaction.atomic():
        # Serialise calibrations of one organisation on its row.
        Organisation.objects.select_for_update().get(pk=job.organisation_id)
        others = (
            Job.objects.filter(
                organisation_id=job.organisation_id,
                kind=Job.Kind.CALIBRATION,
                status=Job.Status.RUNNING,
                lease_expires_at__gt=timezone.now(),
            )
            .exclude(pk=job.pk)
            .first()
        )
        if others is not None:
            raise CalibrationLocked(
                "Another calibration of this organisation is running "
                f"(job {others.pk}); submit again when it has finished."
            )
        run, _ = CalibrationRun.objects.update_or_create(
            job=job,
            defaults={
                "organisation_id": job.organisation_id,
                "method": options["method"],
                "status": CalibrationRun.Status.RUNNING,
                "settings": options,
                "error": "",
                "finished_at": None,
            },
        )
    return run


def _finite_or_none(value):
    value = float(value)
    return value if np.isfinite(value) else None


def run_calibration(job, progress=None):
    """Calibrate the job's organisation and store a new run atomically.

    ``progress(percent, step)`` is called along the way. A failure leaves the
    previous successful run's parameters in force.
    """
    from calibration.irt import IRTInputError, JointMLE, MarginalMLE, ResponseMatrix

    progress = progress or (lambda percent, step=None: None)
    options = calibration_options(**job.params)
    run = _start_run(job, options)
    try:
        progress(2, "reading responses")
        started = time.monotonic()
        student_ids, item_ids, person_idx, item_idx, correct = read_responses(
            job.organisation
        )
        read_seconds = time.monotonic() - started
        if len(correct) == 0:
            raise CalibrationInputError(
                "The organisation has no responses to calibrate."
            )
        logger.info(
            "calibration run %s read %s responses (%s persons, %s items) in %.2f s",
            run.pk,
            len(correct),
            len(student_ids),
            len(item_ids),
            read_seconds,
        )
        try:
            matrix = ResponseMatrix.from_triplets(
                person_idx,
                item_idx,
                correct,
                n_persons=len(student_ids),
                n_items=len(item_ids),
            )
        except IRTInputError as exc:
            raise CalibrationInputError(str(exc)) from exc

        progress(10, "fitting")
        max_iter = options["max_iter"]

        def on_iteration(iteration, total, info):
            progress(10 + 80 * min(iteration / max(total, 1), 1.0), "fitting")

        if options["method"] == "mml":
            estimator = MarginalMLE(max_iter=max_iter, tol=options["tol"])
        else:
            estimator = JointMLE(max_iter=max_iter, tol=options["tol"])
        try:
            estimator.fit(matrix, progress=on_iteration)
        except IRTInputError as exc:
            raise CalibrationInputError(str(exc)) from exc
        result = estimator.result_

        progress(90, "storing")
        _store(run, result, student_ids, item_ids, len(correct), read_seconds)
        if not result.converged:
            # Parameters that did not settle are kept for inspection, never
            # put in force: reports keep using the previous run.
            raise CalibrationNotConverged(
                not_converged_message(options, result),
                result={
                    "calibration_run": str(run.pk),
                    "method": options["method"],
                    "converged": False,
                    "iterations": int(result.n_iter),
                },
            )
    except BaseException as exc:
        if isinstance(exc, JobCancelled):
            status, error = CalibrationRun.Status.CANCELLED, "Cancelled while running."
            exc.result = {"calibration_run": str(run.pk), "method": options["method"]}
        elif isinstance(exc, CalibrationNotConverged):
            status, error = CalibrationRun.Status.FAILED, str(exc)
        else:
            status, error = CalibrationRun.Status.FAILED, f"{type(exc).__name__}: {exc}"
        CalibrationRun.objects.filter(pk=run.pk).update(
            status=status, error=error, finished_at=timezone.now()
        )
        raise
    logger.info(
        "calibration run %s stored (converged=%s, %s iterations)",
        run.pk,
        result.converged,
        result.n_iter,
    )
    return {
        "calibration_run": str(run.pk),
        "method": options["method"],
        "converged": bool(result.converged),
        "iterations": int(result.n_iter),
        "log_likelihood": _finite_or_none(result.log_likelihood),
        "n_persons": len(student_ids),
        "n_items": len(item_ids),
        "n_responses": int(len(correct)),
    }


def not_converged_message(
    options, result, kept="its estimates are kept for inspection but not used."
):
    """Say why a fit did not converge and what to do, for people."""
    if (result.convergence or {}).get("no_finite_maximum"):
        return (
            f"The {options['method']} calibration has no finite maximum: with so "
            "few items per person the joint likelihood keeps rising as an item's "
            f"discrimination grows ({result.n_iter} iterations); {kept} Use "
            "method 'mml', which suits short and sparse tests."
        )
    return (
        f"The {options['method']} calibration did not converge in "
        f"{result.n_iter} iterations; {kept} Raise max_iter, or use method "
        "'mml' for short or sparse tests."
    )


def _store(run, result, student_ids, item_ids, n_responses, read_seconds):
    diag = result.item_diagnostics
    with transaction.atomic():
        ItemParameter.objects.filter(run=run).delete()
        AbilityEstimate.objects.filter(run=run).delete()
        ItemParameter.objects.bulk_create(
            (
                ItemParameter(
                    run=run,
                    item_id=item_id,
                    discrimination=float(result.discrimination[j]),
                    difficulty=float(result.difficulty[j]),
                    se_discrimination=_finite_or_none(result.se_discrimination[j]),
                    se_difficulty=_finite_or_none(result.se_difficulty[j]),
                    n_responses=int(diag["n_responses"][j]),
                    p_value=_finite_or_none(diag["p_value"][j]),
                    item_total_correlation=_finite_or_none(diag["item_total_corr"][j]),
                    infit=_finite_or_none(diag["infit"][j]),
                    outfit=_finite_or_none(diag["outfit"][j]),
                    flag=str(diag["flag"][j] or ""),
                )
                for j, item_id in enumerate(item_ids)
            ),
            batch_size=WRITE_BATCH_ROWS,
        )
        AbilityEstimate.objects.bulk_create(
            (
                AbilityEstimate(
                    run=run,
                    student_id=student_id,
                    theta=float(result.ability[i]),
                    se=_finite_or_none(result.se_ability[i]),
                )
                for i, student_id in enumerate(student_ids)
            ),
            batch_size=WRITE_BATCH_ROWS,
        )
        CalibrationRun.objects.filter(pk=run.pk).update(
            status=CalibrationRun.Status.SUCCEEDED
            if result.converged
            else CalibrationRun.Status.FAILED,
            n_persons=len(student_ids),
            n_items=len(item_ids),
            n_responses=n_responses,
            converged=bool(result.converged),
            n_iterations=int(result.n_iter),
            log_likelihood=_finite_or_none(result.log_likelihood),
            read_seconds=read_seconds,
            fit_seconds=float(result.fit_seconds),
            diagnostics=result.to_dict().get("run_diagnostics", {}),
            finished_at=timezone.now(),
        )
