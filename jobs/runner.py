"""The base of every job task: claiming, heartbeats, progress and outcome.

Task bodies are plain functions ``handler(job, ctx) -> dict`` registered with
:func:`job_task`. Everything about status lives here: a handler reports
progress through ``ctx`` and signals the outcome by returning (succeeded) or
raising (:class:`PermanentJobError` fails at once, :class:`TransientJobError`
and lost connections are retried with capped exponential backoff,
:class:`JobCancelled` cancels).
"""

import functools
import logging
import os
import socket
import threading
import time
from datetime import timedelta

from celery import Task, shared_task
from celery.exceptions import Retry, SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.utils import timezone

from dreamseed.backoff import capped_backoff
from dreamseed.exceptions import JobCancelled, PermanentJobError, TransientJobError
from dreamseed.sql import Columns, fetch_one

from .models import Job
from .services import TASKS_BY_KIND, after_finish

logger = logging.getLogger(__name__)

# Errors worth another attempt: the work may well succeed once the database,
# broker, storage or mail server is back.
TRANSIENT_ERRORS = (
    TransientJobError,
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
)


def claimant_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_seconds():
    return max(3 * settings.JOBS_HEARTBEAT_SECONDS, 3)


def retry_countdown(attempt):
    """Seconds before a job's next attempt (capped exponential, jittered)."""
    return capped_backoff(
        attempt,
        settings.JOBS_RETRY_BACKOFF_SECONDS,
        settings.JOBS_RETRY_BACKOFF_MAX_SECONDS,
    )


def _claimant_is_dead(claimed_by):
    """Tell whether a claimant on this host has exited (unknowable elsewhere)."""
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Busy(Exception):
    """Another live worker holds the job; try again after ``seconds``."""

    def __init__(self, seconds):
        self.seconds = seconds


def claim(job_id):
    """Mark the job running for this process, or say why not.

    A worker keeps its database connection between tasks; if the server
    closed it meanwhile (a restart, a fail-over, an idle timeout), the claim
    is tried once more on a fresh connection rather than lost.
    """
    return _reconnecting_once(_claim, job_id)


def _reconnecting_once(operation, *args, **kwargs):
    """Run ``operation``; if the database connection has died, once more anew."""
    try:
        return operation(*args, **kwargs)
    except (OperationalError, InterfaceError):
        logger.warning(
            "%s failed on a dead connection; reconnecting once",
            operation.__name__,
            exc_info=True,
        )
        connection.close()
        return operation(*args, **kwargs)


def _claim(job_id):
    """Mark the job running for this process, or say why not.

    Returns the job, ``None`` when there is nothing to do (finished,
    cancelled, unknown, or out of attempts), or raises :class:`Busy`.
    """
    now = timezone.now()
    job = _claim_queued(job_id, now)
    if job is not None:
        logger.info("job %s started (attempt %s)", job.id, job.attempts)
        return job

    ended = None
    with transaction.atomic():
        _relax_commit()
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("job %s does not exist; message dropped", job_id)
            return None
        if job.is_terminal:
            logger.info(
                "job %s already %s; duplicate delivery ignored", job.id, job.status
            )
            return None
        if job.status == Job.Status.RUNNING:
            lease_valid = job.lease_expires_at and job.lease_expires_at > now
            if lease_valid and not _claimant_is_dead(job.claimed_by):
                remaining = (job.lease_expires_at - now).total_seconds()
                raise Busy(remaining + 1)
            logger.warning(
                "job %s: worker %s lost it; taking over", job.id, job.claimed_by
            )
        # Checked after the lease: a live worker running the job notices the
        # cancellation itself and records it.
        if job.cancel_requested:
            _finish(job, Job.Status.CANCELLED, error="Cancelled.", code="cancelled")
            ended = job
        if ended is None and job.attempts >= job.max_attempts:
            _finish(
                job,
                Job.Status.FAILED,
                error=(
                    f"Gave up after {job.attempts} attempts: the worker was lost "
                    "each time (killed, or out of memory)."
                ),
                code="worker_lost",
                dead_letter=True,
            )
            ended = job
        if ended is None:
            _start(job, now)
    if ended is not None:
        # After the commit: the batch and the signal's receivers must see
        # the outcome.
        after_finish(ended)
        return None
    logger.info("job %s started (attempt %s)", job.id, job.attempts)
    return job


def _relax_commit():
    """Let this transaction's COMMIT return before its WAL reaches the disk.

    Only for the job's own bookkeeping (claim, outcome): should PostgreSQL
    crash, the last fraction of a second of these writes may be lost, which
    leaves the job queued or running and the sweeper runs it again (every job
    is safe to run twice). Waiting for the disk at every claim and finish
    halved the throughput of short jobs.
    """
    if connection.vendor != "postgresql":
        return  # SQLite (the embedded default) has no such setting.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _claim_queued(job_id, now):
    """Claim a plainly queued job in one statement; ``None`` if it is not one.

    Anything unusual (running, finished, cancelled, out of attempts, unknown)
    is left to the locking path in :func:`claim`, and so is every claim on
    SQLite, whose ids and datetimes this raw statement would not match.
    """
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(Job._meta.db_table)
    # One round trip in autocommit mode: BEGIN, SET LOCAL and COMMIT around
    # it cost three more, which was most of a claim's time; the row comes back
    # as written, read without a queryset (see dreamseed.sql).
    sql = (
        f"UPDATE {table} SET status = %s, attempts = attempts + 1, "
        "claimed_by = %s, started_at = %s, heartbeat_at = %s, "
        "lease_expires_at = %s, error = '', error_code = '' "
        "WHERE id = %s AND status = %s AND NOT cancel_requested "
        f"AND attempts < max_attempts {_relaxed_commit_sql('AND')} "
        f"RETURNING {_job_columns(table).sql()}"
    )
    params = [
        Job.Status.RUNNING,
        claimant_name(),
        now,
        now,
        now + timedelta(seconds=lease_seconds()),
        job_id,
        Job.Status.QUEUED,
    ]
    (job,) = fetch_one(sql, params, _job_columns(table))
    return job


@functools.cache
def _job_columns(table):
    return Columns(Job, table)


def _relaxed_commit_sql(joiner):
    """A condition that relaxes the commit of the statement it is part of.

    The same trade as :func:`_relax_commit`, for a statement run on its own
    in autocommit mode: ``set_config`` is evaluated while the statement runs,
    before its implicit commit. Inside a transaction it would relax the whole
    transaction, so it is left out there.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return ""
    return f"{joiner} set_config('synchronous_commit', 'off', true) = 'off'"


def _start(job, now):
    job.status = Job.Status.RUNNING
    job.attempts += 1
    job.claimed_by = claimant_name()
    job.started_at = now
    job.heartbeat_at = now
    job.lease_expires_at = now + timedelta(seconds=lease_seconds())
    job.error = ""
    job.error_code = ""
    job.save()


def _outcome_fields(status, *, result=None, error="", code="", dead_letter=False):
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "lease_expires_at": None,
        # PostgreSQL text cannot hold NUL; an error message may (from data).
        "error": error.replace("\x00", "\\x00"),
        "error_code": code,
        "dead_letter": dead_letter,
    }
    if result is not None:
        fields["result"] = result
    if status == Job.Status.SUCCEEDED:
        fields["progress_percent"] = 100
        fields["progress_step"] = "done"
    return fields


def _finish(job, status, **kwargs):
    fields = _outcome_fields(status, **kwargs)
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=list(fields))


def finish(job_id, status, **kwargs):
    """Record a job's outcome; reconnect once if the connection has died.

    Work that is done must not be lost to a connection the server closed
    while the job ran: the outcome is written again on a fresh connection.
    If the database is really down, the second write fails too, the job stays
    running until its lease expires, and the sweeper takes over.
    """
    try:
        return _reconnecting_once(_finish_once, job_id, status, **kwargs)
    except (DataError, IntegrityError, ValueError) as exc:
        # The outcome itself cannot be stored (NaN or infinity in the result,
        # which JSON has no words for, say). Left running, the job would be
        # run again until its attempts ran out and then blamed on a lost
        # worker: record a failure that says what happened instead.
        if kwargs.get("code") == UNSTORABLE:
            raise
        logger.exception("job outcome could not be stored")
        kwargs.pop("result", None)
        kwargs.update(
            error=(
                f"The job's outcome ({status}) could not be stored: "
                f"{type(exc).__name__}: {exc}".strip()
            ),
            code=UNSTORABLE,
            dead_letter=False,
        )
        return _finish_once(job_id, Job.Status.FAILED, **kwargs)


# The error code of a job whose outcome the database refused.
UNSTORABLE = "unstorable_outcome"


def _update_held(job_id, claimant, fields):
    """Write ``fields`` if ``claimant`` still holds the running job; say if it did.

    Written as SQL rather than through a queryset: building the UPDATE took
    longer than running it, on the path every job takes.
    """
    quote = connection.ops.quote_name
    assignments = []
    params = []
    for name, value in fields.items():
        field = Job._meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    sql = (
        f"UPDATE {quote(Job._meta.db_table)} SET {', '.join(assignments)} "
        "WHERE id = %s AND status = %s AND claimed_by = %s "
        + _relaxed_commit_sql("AND")
    )
    params += [
        Job._meta.pk.get_db_prep_value(job_id, connection),
        Job.Status.RUNNING,
        claimant,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0


def _finish_once(job_id, status, *, claimant=None, **kwargs):
    """Record a job's outcome and update its batch, in one place.

    ``job_id`` may be the job itself, which saves reading it again.

    With ``claimant``, the outcome is written only if that worker still holds
    the job: a worker that lost its lease (and whose job another worker took
    over or the sweeper failed) must not overwrite the newer outcome. Returns
    the job, or ``None`` when nothing was written.
    """
    if claimant is not None:
        # One conditional UPDATE: the common path of every job, so no lock
        # and no read before it.
        job = job_id if isinstance(job_id, Job) else Job.objects.get(pk=job_id)
        fields = _outcome_fields(status, **kwargs)
        if not _update_held(job.pk, claimant, fields):
            logger.warning(
                "job %s is no longer held by %s; outcome %s dropped",
                job.pk,
                claimant,
                status,
            )
            return None
        for name, value in fields.items():
            setattr(job, name, value)
    else:
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job_id)
            if job.is_terminal:
                logger.info(
                    "job %s already %s; outcome %s dropped", job.id, job.status, status
                )
                return None
            _finish(job, status, **kwargs)
    after_finish(job)
    return job


class JobContext:
    """What a handler may do to its job while it runs."""

    # Progress is written at most this often (seconds) unless the step changes.
    WRITE_INTERVAL = 0.5
    CANCEL_CHECK_INTERVAL = 1.0

    def __init__(self, job, cancel_event):
        self.job = job
        self._cancel_event = cancel_event
        self._last_write = 0.0
        self._last_step = None
        self._last_check = time.monotonic()

    def progress(self, percent, step=None):
        """Record progress (0-100) and the current step; stop if cancelled."""
        percent = max(0, min(100, int(percent)))
        step = self._last_step if step is None else step
        now = time.monotonic()
        if step != self._last_step or now - self._last_write >= self.WRITE_INTERVAL:
            heartbeat = timezone.now()
            # Only while this worker holds the job: one that lost its lease
            # must not move the new holder's progress or extend its lease.
            Job.objects.filter(
                pk=self.job.pk,
                status=Job.Status.RUNNING,
                claimed_by=self.job.claimed_by,
            ).update(
                progress_percent=percent,
                progress_step=step or "",
                heartbeat_at=heartbeat,
                lease_expires_at=heartbeat + timedelta(seconds=lease_seconds()),
            )
            self._last_write = now
            self._last_step = step
            logger.debug("job %s progress %s%% %s", self.job.pk, percent, step)
        self.check_cancelled()

    def check_cancelled(self):
        """Raise :class:`JobCancelled` if someone asked the job to stop."""
        now = time.monotonic()
        if not self._cancel_event.is_set() and (
            now - self._last_check >= self.CANCEL_CHECK_INTERVAL
        ):
            self._last_check = now
            if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
                self._cancel_event.set()
        if self._cancel_event.is_set():
            raise JobCancelled(f"job {self.job.pk} was cancelled")

    @property
    def cancelled(self):
        return self._cancel_event.is_set()


class Heartbeats:
    """One thread per process renews the leases of the jobs the process runs.

    A thread started and joined for every job cost about 0.7 ms a job, a
    seventh of a no-op job's time; jobs now only register and unregister.
    The thread also notices cancellation and sets the job's event.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs = {}  # job id -> (claimant, cancel event)
        self._thread = None
        self._pid = None

    def add(self, job_id, claimed_by, cancel_event):
        with self._lock:
            self._jobs[job_id] = (claimed_by, cancel_event)
            # A forked child inherits no threads: it starts its own.
            if self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="job-heartbeats", daemon=True
                )
                self._thread.start()

    def remove(self, job_id):
        with self._lock:
            self._jobs.pop(job_id, None)

    def _run(self):
        while True:
            time.sleep(settings.JOBS_HEARTBEAT_SECONDS)
            with self._lock:
                jobs = dict(self._jobs)
            if not jobs:
                connection.close()  # no idle connection while nothing runs
                continue
            for job_id, (claimed_by, cancel_event) in jobs.items():
                self._beat(job_id, claimed_by, cancel_event)

    def _beat(self, job_id, claimed_by, cancel_event):
        try:
            now = timezone.now()
            Job.objects.filter(
                pk=job_id, status=Job.Status.RUNNING, claimed_by=claimed_by
            ).update(
                heartbeat_at=now,
                lease_expires_at=now + timedelta(seconds=lease_seconds()),
            )
            if Job.objects.filter(pk=job_id, cancel_requested=True).exists():
                cancel_event.set()
        except DatabaseError:
            logger.warning("job %s heartbeat failed", job_id, exc_info=True)
            connection.close()  # a fresh connection next time


HEARTBEATS = Heartbeats()


def run_job(task, job_id, handler):
    """Run ``handler`` for the job ``job_id`` under the job lifecycle."""
    try:
        job = claim(job_id)
    except Busy as busy:
        logger.info("job %s held by a live worker; checking again later", job_id)
        raise task.retry(countdown=busy.seconds, max_retries=None)
    if job is None:
        return {"job": str(job_id), "skipped": True}

    cancel_event = threading.Event()
    HEARTBEATS.add(job.pk, job.claimed_by, cancel_event)
    try:
        result = handler(job, JobContext(job, cancel_event))
    except Retry:
        raise
    except JobCancelled as exc:
        finish(
            job,
            Job.Status.CANCELLED,
            claimant=job.claimed_by,
            error="Cancelled while running.",
            code="cancelled",
            result=exc.result,
        )
        return {"job": str(job.pk), "status": "cancelled"}
    except SoftTimeLimitExceeded:
        finish(
            job,
            Job.Status.FAILED,
            claimant=job.claimed_by,
            error=(
                f"Stopped: the time limit of {task.soft_time_limit or '?'} s "
                "was exceeded."
            ),
            code="time_limit",
        )
        return {"job": str(job.pk), "status": "failed"}
    except PermanentJobError as exc:
        logger.error("job %s failed: %s", job.pk, exc)
        finish(
            job,
            Job.Status.FAILED,
            claimant=job.claimed_by,
            error=str(exc),
            code=exc.code,
            result=exc.result,
        )
        return {"job": str(job.pk), "status": "failed"}
    except TRANSIENT_ERRORS as exc:
        return _retry_or_fail(task, job, exc)
    except Exception as exc:
        logger.exception("job %s failed with an unexpected error", job.pk)
        finish(
            job,
            Job.Status.FAILED,
            claimant=job.claimed_by,
            error=f"Internal error: {type(exc).__name__}: {exc}",
            code="internal_error",
        )
        return {"job": str(job.pk), "status": "failed"}
    finally:
        HEARTBEATS.remove(job.pk)

    finish(job, Job.Status.SUCCEEDED, claimant=job.claimed_by, result=result)
    return {"job": str(job.pk), "status": "succeeded"}


def _retry_or_fail(task, job, exc):
    reason = f"{type(exc).__name__}: {exc}"
    if job.attempts >= job.max_attempts:
        logger.error(
            "job %s failed after %s attempts: %s", job.pk, job.attempts, reason
        )
        finish(
            job,
            Job.Status.FAILED,
            claimant=job.claimed_by,
            error=f"Gave up after {job.attempts} attempts. Last error: {reason}",
            code=getattr(exc, "code", "transient_error"),
            dead_letter=True,
        )
        return {"job": str(job.pk), "status": "failed"}
    countdown = retry_countdown(job.attempts)
    logger.warning(
        "job %s attempt %s failed (%s); retrying in %.0f s",
        job.pk,
        job.attempts,
        reason,
        countdown,
    )
    # The database itself may be what failed. A connection the server closed
    # stays closed for the rest of the task, so drop it and let the write
    # below open a fresh one; if the database is really down, that write fails
    # too and the job stays running until its lease expires and the sweeper
    # takes over.
    if isinstance(exc, OperationalError | InterfaceError):
        connection.close_if_unusable_or_obsolete()
    Job.objects.filter(
        pk=job.pk, status=Job.Status.RUNNING, claimed_by=job.claimed_by
    ).update(
        status=Job.Status.QUEUED,
        error=f"Attempt {job.attempts} failed, retrying: {reason}",
        error_code="retrying",
        lease_expires_at=None,
        published_at=timezone.now(),
    )
    raise task.retry(countdown=countdown, max_retries=None)


class JobTask(Task):
    """The Celery task class of jobs."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # A hard time limit kills the pool child running the job, so the job
        # cannot record it; the worker's main process calls this instead.
        # Left running, the job would wait for its lease to expire, be run
        # (and killed) again by the sweeper, and end blamed on a lost worker.
        if isinstance(exc, TimeLimitExceeded) and args:
            limit = exc.args[0] if exc.args else "?"
            try:
                finish(
                    args[0],
                    Job.Status.FAILED,
                    error=f"Stopped: the hard time limit of {limit} s was exceeded.",
                    code="time_limit",
                )
            except Exception:
                # The sweeper still finds the job once its lease expires.
                logger.exception("job %s: time limit could not be recorded", args[0])


def job_task(*, kind, name, soft_time_limit=None, time_limit=None):
    """Register ``handler(job, ctx)`` as the Celery task for jobs of ``kind``."""

    def decorator(handler):
        @shared_task(
            base=JobTask,
            bind=True,
            name=name,
            max_retries=None,
            # The Job row is the record of the outcome. Celery's result row (task
            # name, arguments, worker) is kept for staff by default; turning it
            # off saves a write per job.
            ignore_result=not settings.JOBS_STORE_TASK_RESULTS,
            track_started=False,
            acks_late=True,
            reject_on_worker_lost=True,
            soft_time_limit=soft_time_limit,
            time_limit=time_limit,
        )
        def task(self, job_id):
            return run_job(self, job_id, handler)

        task.handler = handler
        TASKS_BY_KIND[kind] = task
        return task

    return decorator
