"""Creating, publishing, cancelling and requeueing jobs.

A job is written to the database first; its message is published only after
that transaction commits, so a worker never receives an id it cannot read.
The broker may still lose the message (Redis keeps nothing on disk here): the
sweeper publishes again whatever waited too long, and a second delivery of a
finished job does nothing.
"""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from .models import Job
from .priorities import broker_priority

logger = logging.getLogger(__name__)

# kind -> Celery task, filled in by jobs.runner.job_task as apps load.
TASKS_BY_KIND = {}


def _check_kind(kind):
    if kind not in Job.Kind.values:
        raise ValueError(f"unknown job kind {kind!r}")


def _new_job(
    *, organisation, kind, params, priority, submitted_by, parent, publish, **extra
):
    """An unsaved job row as every way of creating jobs writes it."""
    _check_kind(kind)
    # The row records the publication up front, so the common path costs one
    # INSERT and no UPDATE; should the publication fail after the commit, the
    # sweeper finds the job by its age all the same.
    return Job(
        organisation=organisation,
        kind=kind,
        params=params or {},
        priority=settings.JOBS_DEFAULT_PRIORITY if priority is None else priority,
        submitted_by=submitted_by,
        parent=parent,
        max_attempts=settings.JOBS_MAX_ATTEMPTS,
        celery_task_id=str(uuid.uuid4()) if publish else "",
        published_at=timezone.now() if publish else None,
        publish_count=1 if publish else 0,
        **extra,
    )


def create_job(
    *,
    organisation,
    kind,
    params=None,
    priority=None,
    submitted_by=None,
    parent=None,
    idempotency_key=None,
    request_hash="",
    publish=True,
):
    """Record a job and publish it once the surrounding transaction commits."""
    job = _new_job(
        organisation=organisation,
        kind=kind,
        params=params,
        priority=priority,
        submitted_by=submitted_by,
        parent=parent,
        publish=publish,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    job.save(force_insert=True)
    logger.info("job %s queued (kind=%s priority=%s)", job.id, kind, job.priority)
    if publish:
        transaction.on_commit(lambda: send_job(job, job.celery_task_id))
    return job


def create_jobs(
    *,
    organisation,
    kind,
    params_list,
    priority=None,
    submitted_by=None,
    parent=None,
):
    """Record one job of ``kind`` per entry of ``params_list`` in one INSERT.

    The jobs are published once the surrounding transaction commits, as with
    :func:`create_job`. A batch of 1,000 reports was 2,000 INSERTs, one at a
    time, before its first job could start.
    """
    _check_kind(kind)  # also for an empty list
    jobs = [
        _new_job(
            organisation=organisation,
            kind=kind,
            params=params,
            priority=priority,
            submitted_by=submitted_by,
            parent=parent,
            publish=True,
        )
        for params in params_list
    ]
    Job.objects.bulk_create(jobs, batch_size=JOBS_PER_INSERT)
    logger.info("%s %s jobs queued", len(jobs), kind)

    def publish_all():
        for sent, job in enumerate(jobs):
            if not send_job(job, job.celery_task_id):
                # The broker refused one; each further try would wait for it
                # again (about 0.6 s), so a batch of 1,000 would hold the
                # request for minutes. The rows are saved: the sweeper
                # publishes the rest.
                logger.warning(
                    "%s of %s %s jobs left for the sweeper to publish",
                    len(jobs) - sent,
                    len(jobs),
                    kind,
                )
                return

    transaction.on_commit(publish_all)
    return jobs


# Rows per INSERT statement when jobs are created together: large enough that
# statements are few, small enough to stay far below PostgreSQL's limit of
# 65,535 parameters (a job row has about 25 columns).
JOBS_PER_INSERT = 500


def send_job(job, task_id, countdown=None):
    """Send the job's message; return whether the broker took it."""
    try:
        TASKS_BY_KIND[job.kind].apply_async(
            args=[str(job.id)],
            task_id=task_id,
            priority=broker_priority(job.priority),
            countdown=countdown,
        )
    except Exception:
        # The job row stays queued; the sweeper publishes it again later.
        logger.warning(
            "job %s could not be published; will retry", job.id, exc_info=True
        )
        return False
    return True


def publish_job(job_id, countdown=None):
    """Send a queued job's message to the broker; failures are left to the sweeper."""
    job = Job.objects.filter(pk=job_id).only("id", "kind", "priority", "status").first()
    if job is None or job.is_terminal:
        return False
    task_id = str(uuid.uuid4())
    if not send_job(job, task_id, countdown=countdown):
        return False
    Job.objects.filter(pk=job.id).update(
        celery_task_id=task_id,
        published_at=timezone.now(),
        publish_count=F("publish_count") + 1,
    )
    logger.debug("job %s published as task %s", job_id, task_id)
    return True


def cancel_job(job):
    """Cancel a queued job now, or ask a running one to stop at its next step."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.is_terminal:
            return job
        if job.status == Job.Status.QUEUED:
            job.status = Job.Status.CANCELLED
            job.finished_at = timezone.now()
            # A batch reads queued until a member ends, though some may run.
            job.error = (
                "Cancelled; its members already running were asked to stop."
                if job.children.filter(status=Job.Status.RUNNING).exists()
                else "Cancelled before it started."
            )
            job.error_code = "cancelled"
        job.cancel_requested = True
        job.save()
    _cancel_members(job)
    if job.status == Job.Status.CANCELLED:
        after_finish(job)
    logger.info("job %s cancel requested (status now %s)", job.id, job.status)
    return job


def _cancel_members(job):
    """Cancel a batch's queued members at once; ask its running ones to stop.

    In a few statements rather than one cancellation per member: a batch of
    1,000 took about 9,000 queries and 5 s, each member recounting the batch.
    The batch is recounted once, at the end.
    """
    # Every member not yet ended is asked to stop first, whatever it does
    # meanwhile: one a worker claims, or puts back in the queue after a
    # failed attempt, between the statements below still stops.
    job.children.exclude(status__in=Job.TERMINAL).update(cancel_requested=True)
    with transaction.atomic():
        # Locked, so that no worker claims one between this and the UPDATE.
        queued = list(
            Job.objects.select_for_update()
            .filter(parent=job, status=Job.Status.QUEUED)
            .values_list("pk", flat=True)
        )
        Job.objects.filter(pk__in=queued).update(
            status=Job.Status.CANCELLED,
            finished_at=timezone.now(),
            error="Cancelled before it started.",
            error_code="cancelled",
            cancel_requested=True,
        )
    for member in Job.objects.filter(pk__in=queued).iterator():
        _tell_receivers(member)
    if job.kind == Job.Kind.REPORT_BATCH:
        # Also when no member was queued: a batch whose last member ended
        # without recounting it (its worker was killed in between) is
        # finished here rather than left running for ever.
        update_batch(job.pk)


def requeue_job(job):
    """Put a failed or cancelled job back in the queue with fresh attempts."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
            return job
        job.status = Job.Status.QUEUED
        job.attempts = 0
        job.dead_letter = False
        job.cancel_requested = False
        job.error = ""
        job.error_code = ""
        job.progress_percent = 0
        job.progress_step = ""
        job.finished_at = None
        job.started_at = None
        job.save()
        if job.parent_id and job.parent.kind == Job.Kind.REPORT_BATCH:
            # In the same transaction: the member cannot end (and recount
            # its batch) before its batch is open again.
            _reopen_batch(job.parent_id)
        from .signals import job_requeued

        job_requeued.send(sender=Job, job=job)
        transaction.on_commit(lambda: publish_job(job.id))
    logger.info("job %s requeued", job.id)
    return job


def _reopen_batch(batch_id):
    """Put an ended batch back to running, since one of its members is again.

    Otherwise it would keep its old outcome and summary for good: an ended
    batch is not recounted when its members end.
    """
    batch = Job.objects.select_for_update().get(pk=batch_id)
    if batch.is_terminal:
        batch.status = Job.Status.RUNNING
        batch.started_at = batch.started_at or timezone.now()
        batch.finished_at = None
        batch.error = ""
        batch.error_code = ""
        batch.dead_letter = False
        batch.result = None
        batch.save()
    update_batch(batch_id)


def after_finish(job):
    """Update the batch and tell the receivers, once the outcome is committed."""
    if job.parent_id and job.parent.kind == Job.Kind.REPORT_BATCH:
        update_batch(job.parent_id)
    _tell_receivers(job)


def _tell_receivers(job):
    from .signals import job_finished, job_succeeded

    logger.info("job %s %s", job.id, job.status)
    if job.status == Job.Status.SUCCEEDED:
        job_succeeded.send(sender=Job, job=job)
    job_finished.send(sender=Job, job=job)


def update_batch(batch_id):
    """Recount a batch's members and finish the batch when all have ended."""
    with transaction.atomic():
        batch = Job.objects.select_for_update().get(pk=batch_id)
        counts = batch.children.aggregate(
            total=Count("id"),
            succeeded=Count("id", filter=Q(status=Job.Status.SUCCEEDED)),
            failed=Count("id", filter=Q(status=Job.Status.FAILED)),
            cancelled=Count("id", filter=Q(status=Job.Status.CANCELLED)),
        )
        done = counts["succeeded"] + counts["failed"] + counts["cancelled"]
        total = counts["total"] or 1
        batch.progress_percent = int(100 * done / total)
        # "Ended", with how: a batch whose members were mostly cancelled
        # must not read as if the work were done.
        how = ", ".join(
            f"{counts[outcome]} {outcome}"
            for outcome in ("succeeded", "failed", "cancelled")
            if counts[outcome]
        )
        batch.progress_step = f"{done} of {counts['total']} ended" + (
            f" ({how})" if how else ""
        )
        if batch.status == Job.Status.QUEUED and done:
            batch.status = Job.Status.RUNNING
            batch.started_at = batch.started_at or timezone.now()
        # A batch cancelled while queued is already terminal: it still gets
        # its summary once its last member has ended.
        if done == counts["total"] and (not batch.is_terminal or batch.result is None):
            members = list(
                batch.children.order_by("created_at").values(
                    "id", "status", "error", "result"
                )
            )
            batch.result = {
                "total": counts["total"],
                "succeeded": counts["succeeded"],
                "failed": counts["failed"],
                "cancelled": counts["cancelled"],
                "members": [
                    {
                        "job": str(m["id"]),
                        "status": m["status"],
                        "error": m["error"],
                        "result": m["result"],
                    }
                    for m in members
                ],
            }
        if done == counts["total"] and not batch.is_terminal:
            batch.finished_at = timezone.now()
            if counts["succeeded"] == counts["total"]:
                batch.status = Job.Status.SUCCEEDED
            elif batch.cancel_requested:
                batch.status = Job.Status.CANCELLED
                batch.error = "Cancelled."
                batch.error_code = "cancelled"
            elif not counts["failed"]:
                # Someone cancelled members one by one; nothing went wrong.
                batch.status = Job.Status.CANCELLED
                batch.error = (
                    f"{counts['cancelled']} of {counts['total']} members were "
                    "cancelled"
                    + ("; the others succeeded." if counts["succeeded"] else ".")
                )
                batch.error_code = "members_cancelled"
            else:
                batch.status = Job.Status.FAILED
                batch.error = f"{counts['failed']} of {counts['total']} members failed"
                if counts["cancelled"]:
                    batch.error += f" and {counts['cancelled']} were cancelled"
                batch.error += "."
                batch.error_code = "members_failed"
        batch.save()
    return batch


# The sweeper's interval stops doubling after this many publications: a job
# published 7 times waits 64 x JOBS_REQUEUE_AFTER_SECONDS between tries.
SWEEP_MAX_DOUBLINGS = 6

# Jobs published per sweep and per kind of trouble; the rest wait for the next
# sweep, so one sweep never holds the beat process for long.
SWEEP_BATCH_SIZE = 1000


def sweep_due(now, requeue_after):
    """Return a filter: published long enough ago, given how often already.

    The wait doubles with every publication (``publish_count``), so a long
    backlog that is merely slow is not flooded with duplicate messages. The
    test lives in SQL so that jobs still waiting never hide due ones behind
    the batch limit.
    """
    due = Q(published_at__isnull=True, created_at__lt=now - requeue_after)
    for count in range(SWEEP_MAX_DOUBLINGS + 1):
        wait = requeue_after * 2**count
        if count < SWEEP_MAX_DOUBLINGS:
            due |= Q(publish_count__lte=count + 1, published_at__lt=now - wait)
        else:
            due |= Q(publish_count__gt=count, published_at__lt=now - wait)
    return due


def sweep(now=None):
    """Publish again the jobs whose messages were lost or whose worker died.

    Returns the number of jobs published. A queued job whose message went
    missing (Redis flushed or restarted) and a running job whose lease
    expired (its worker died) are published again; each extra delivery of a
    job that has meanwhile finished or is held by a live worker is a no-op,
    and the interval between publications doubles.
    """
    now = now or timezone.now()
    requeue_after = timedelta(seconds=settings.JOBS_REQUEUE_AFTER_SECONDS)
    due = sweep_due(now, requeue_after)
    leaf = ~Q(kind=Job.Kind.REPORT_BATCH)
    published = 0

    queued = (
        Job.objects.filter(leaf, due, status=Job.Status.QUEUED)
        .order_by("created_at")
        .values_list("id", flat=True)
    )
    for job_id in queued[:SWEEP_BATCH_SIZE]:
        logger.warning("job %s still queued; publishing again", job_id)
        published += publish_job(job_id)

    # A lease outlives the heartbeat several times over, so an expired one
    # means the worker is gone: publish at once if nothing was published since
    # the lease ran out, and after that with the same doubling wait.
    stale = (
        Job.objects.filter(leaf, status=Job.Status.RUNNING, lease_expires_at__lt=now)
        .filter(
            Q(published_at__isnull=True)
            | Q(published_at__lt=F("lease_expires_at"))
            | due
        )
        .order_by("lease_expires_at")
        .values_list("id", flat=True)
    )
    for job_id in stale[:SWEEP_BATCH_SIZE]:
        logger.warning("job %s lost its worker; publishing again", job_id)
        published += publish_job(job_id)
    return published
