"""Tasks of the job system: the sweeper, clean-up and the diagnostic probe."""

import logging
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_results.models import TaskResult

from dreamseed.exceptions import PermanentJobError, TransientJobError

from . import services
from .models import Job
from .runner import job_task

logger = logging.getLogger(__name__)

# Rows deleted per statement by the clean-up: small enough that a delete
# never holds locks on a large table for long.
CLEANUP_BATCH_ROWS = 5000

PROBE_MAX_SECONDS = 60


@shared_task(name="dreamseed.jobs.sweep", ignore_result=True)
def sweep_jobs():
    """Publish again the queued jobs whose messages were lost and the lost runs."""
    count = services.sweep()
    if count:
        logger.info("sweeper published %s jobs again", count)
    return count


def delete_in_batches(queryset, batch_rows=CLEANUP_BATCH_ROWS):
    """Delete the rows of ``queryset`` a batch at a time; return how many."""
    model = queryset.model
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch_rows])
        if not ids:
            return total
        deleted, _ = model.objects.filter(pk__in=ids).delete()
        total += deleted


@shared_task(name="dreamseed.maintenance.cleanup", ignore_result=True)
def cleanup():
    """Delete expired sessions, task results and finished probe jobs."""
    now = timezone.now()
    counts = {
        "sessions": delete_in_batches(Session.objects.filter(expire_date__lt=now)),
        "task_results": delete_in_batches(
            TaskResult.objects.filter(
                date_done__lt=now - timedelta(seconds=settings.CELERY_RESULT_EXPIRES)
            )
        ),
        "probe_jobs": delete_in_batches(
            Job.objects.filter(
                kind=Job.Kind.PROBE,
                status__in=Job.TERMINAL,
                finished_at__lt=now - timedelta(days=1),
            )
        ),
    }
    from django.apps import apps

    for app_config in apps.get_app_configs():
        hook = getattr(app_config, "cleanup_expired", None)
        if hook is None:
            continue
        # One app's failure must not stop the others' clean-up.
        try:
            counts.update(hook(now))
        except Exception:
            logger.exception("clean-up of %s failed", app_config.label)
            counts[f"{app_config.label}_failed"] = 1
    logger.info("clean-up done: %s", counts)
    return counts


def probe_options(params):
    """Validate a probe's parameters; return ``(seconds, fail, times)``."""
    unknown = set(params) - {"seconds", "fail", "times"}
    if unknown:
        raise PermanentJobError(f"unknown probe parameters: {sorted(unknown)!r}")
    seconds = params.get("seconds", 0)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= PROBE_MAX_SECONDS
    ):
        raise PermanentJobError(
            f"probe seconds must be between 0 and {PROBE_MAX_SECONDS}, not {seconds!r}"
        )
    fail = params.get("fail")
    if fail not in (None, "permanent", "transient"):
        raise PermanentJobError(
            f"probe fail must be 'permanent' or 'transient', not {fail!r}"
        )
    times = params.get("times", PROBE_MAX_ATTEMPTS)
    if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= 100:
        raise PermanentJobError(
            f"probe times must be a whole number from 0 to 100, not {times!r}"
        )
    return seconds, fail, times


# More attempts than any job is given: "transient" without "times" never
# succeeds, which is how the dead letter is reached.
PROBE_MAX_ATTEMPTS = 100


@job_task(kind=Job.Kind.PROBE, name="dreamseed.jobs.probe", time_limit=120)
def probe(job, ctx):
    """Do nothing, sleep, or fail on purpose: measures and checks the job path.

    ``{"fail": "transient", "times": n}`` fails the first ``n`` attempts with
    a transient error (attempts are counted on the job row) and then
    succeeds; ``{"fail": "permanent"}`` fails at once.
    """
    seconds, fail, times = probe_options(job.params)
    if fail == "permanent":
        raise PermanentJobError("probe asked to fail")
    if fail == "transient" and job.attempts <= times:
        raise TransientJobError(f"probe asked to fail attempt {job.attempts}")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
    return {"slept": seconds, "attempt": job.attempts}


@shared_task(name="dreamseed.jobs.diagnostic_noop")
def diagnostic_noop(value=None):
    """Do nothing, with stock result storage: the benchmark's point of comparison.

    Not part of the job system: no Job row, default result backend.
    """
    return value
