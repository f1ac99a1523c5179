"""Put the current Celery task id and job id on every log record.

A record factory (rather than a handler filter) reaches every handler,
including the ones Celery's worker installs when it takes over the root
logger. Outside a task both fields are "-".
"""

import logging

_installed = False


def current_ids():
    """Return ``(task_id, job_id)`` of the task running in this thread."""
    from celery import current_task

    task = current_task._get_current_object() if current_task else None
    request = getattr(task, "request", None)
    task_id = getattr(request, "id", None)
    if not task_id:
        return "-", "-"
    job_id = "-"
    if getattr(task, "handler", None) is not None and request.args:
        # Job tasks (jobs.runner.job_task) take the job id as first argument.
        job_id = str(request.args[0])
    return task_id, job_id


def install_record_factory():
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            record.task_id, record.job_id = current_ids()
        except Exception:
            record.task_id = record.job_id = "-"
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


class TaskFormatter(logging.Formatter):
    """A formatter that tolerates records made before the factory was installed."""

    def format(self, record):
        if not hasattr(record, "task_id"):
            record.task_id = record.job_id = "-"
        return super().format(record)
