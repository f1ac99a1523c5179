"""Prometheus metrics of the task system.

Counters and duration histograms are kept by each worker process. With
several processes (prefork children, several workers on one host) set
``PROMETHEUS_MULTIPROC_DIR`` to one shared, empty directory for the web
server and every worker: prometheus_client then writes each process's values
to a file there and the /metrics view adds them up. Queue lengths and jobs by
status are read from Redis and the database at scrape time, so they are the
same whichever process answers.
"""

import logging
import os
import time

from django.conf import settings
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

TASKS_STARTED = Counter(
    "dreamseed_celery_tasks_started", "Celery tasks started.", ["task"]
)
TASKS_SUCCEEDED = Counter(
    "dreamseed_celery_tasks_succeeded", "Celery tasks that returned.", ["task"]
)
TASKS_FAILED = Counter(
    "dreamseed_celery_tasks_failed", "Celery tasks that raised.", ["task"]
)
TASKS_RETRIED = Counter(
    "dreamseed_celery_tasks_retried", "Celery task retries scheduled.", ["task"]
)
TASK_DURATION = Histogram(
    "dreamseed_celery_task_duration_seconds",
    "Wall time of one task run, in seconds.",
    ["task"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600),
)

# task id -> monotonic start, for the process running it.
_started = {}


def _task_name(task, sender=None):
    return getattr(task, "name", None) or getattr(sender, "name", None) or "unknown"


def on_prerun(sender=None, task_id=None, task=None, **kwargs):
    TASKS_STARTED.labels(_task_name(task, sender)).inc()
    _started[task_id] = time.monotonic()


def on_postrun(sender=None, task_id=None, task=None, state=None, **kwargs):
    name = _task_name(task, sender)
    started = _started.pop(task_id, None)
    if started is not None:
        TASK_DURATION.labels(name).observe(time.monotonic() - started)
    if state == "SUCCESS":
        TASKS_SUCCEEDED.labels(name).inc()


def on_failure(sender=None, **kwargs):
    TASKS_FAILED.labels(_task_name(sender)).inc()


def on_retry(sender=None, **kwargs):
    TASKS_RETRIED.labels(_task_name(sender)).inc()


def connect_task_signals():
    from celery import signals

    signals.task_prerun.connect(on_prerun, dispatch_uid="monitoring.prerun")
    signals.task_postrun.connect(on_postrun, dispatch_uid="monitoring.postrun")
    signals.task_failure.connect(on_failure, dispatch_uid="monitoring.failure")
    signals.task_retry.connect(on_retry, dispatch_uid="monitoring.retry")


def queue_keys(queue):
    """Redis list names holding ``queue``'s messages, one per priority lane.

    kombu keeps lane 0 under the queue's own name and lane n under
    ``<queue><sep><n>`` for each configured priority step n > 0.
    """
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    steps = options.get("priority_steps", [0, 3, 6, 9])
    sep = options.get("sep", "\x06\x16")
    return [queue] + [f"{queue}{sep}{step}" for step in steps if step]


def queue_lengths():
    """Messages waiting per queue, read from Redis; empty for other brokers."""
    if not settings.BROKER_IS_REDIS:
        return {}
    import redis

    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2
    )
    try:
        pipe = client.pipeline(transaction=False)
        names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
        for name in names:
            for key in queue_keys(name):
                pipe.llen(key)
        sizes = iter(pipe.execute())
        return {name: sum(next(sizes) for _ in queue_keys(name)) for name in names}
    finally:
        client.close()


class ScrapeTimeCollector:
    """Figures read from the broker and the database when scraped."""

    def collect(self):
        from django.db.models import Count

        from jobs.models import Job

        queues = GaugeMetricFamily(
            "dreamseed_queue_length", "Messages waiting in a queue.", labels=["queue"]
        )
        try:
            for name, size in queue_lengths().items():
                queues.add_metric([name], size)
        except Exception:
            logger.warning("queue lengths could not be read", exc_info=True)
        yield queues

        jobs = GaugeMetricFamily(
            "dreamseed_jobs", "Jobs by kind and status.", labels=["kind", "status"]
        )
        rows = Job.objects.values("kind", "status").annotate(n=Count("id"))
        for row in rows.order_by():
            jobs.add_metric([row["kind"], row["status"]], row["n"])
        yield jobs

        dead = GaugeMetricFamily(
            "dreamseed_jobs_dead_letter", "Failed jobs whose retries ran out."
        )
        dead.add_metric([], Job.objects.filter(dead_letter=True).count())
        yield dead


def render():
    """Return the text exposition of every metric."""
    registry = CollectorRegistry()
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        multiprocess.MultiProcessCollector(registry, path=path)
    else:
        for metric in (
            TASKS_STARTED,
            TASKS_SUCCEEDED,
            TASKS_FAILED,
            TASKS_RETRIED,
            TASK_DURATION,
        ):
            registry.register(metric)
    registry.register(ScrapeTimeCollector())
    return generate_latest(registry)


def REGISTRY_VALUE(name, **labels):  # noqa: N802
    """This process's value of a sample (for tests and debugging)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0
