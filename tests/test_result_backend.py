"""The one-statement result backend writes what django-celery-results would."""

from types import SimpleNamespace

from celery import states
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_results.models import TaskResult

from dreamseed.celery import app
from dreamseed.results import ResultBackend


def request(**extra):
    return SimpleNamespace(
        task="dreamseed.example",
        hostname="w1@host",
        argsrepr="(1, 'a')",
        kwargsrepr="{'k': 2}",
        periodic_task_name=None,
        children=[],
        **extra,
    )


def test_the_configured_backend_is_this_one():
    assert isinstance(app.backend, ResultBackend)


def test_each_state_is_one_statement_and_the_row_keeps_its_history(db):
    backend = app.backend
    with CaptureQueriesContext(connection) as queries:
        backend.store_result("t-1", None, states.STARTED, request=request())
    assert len(queries) == 1
    started = TaskResult.objects.get(task_id="t-1")
    assert started.status == states.STARTED and started.date_started

    with CaptureQueriesContext(connection) as queries:
        backend.store_result("t-1", {"n": 3}, states.SUCCESS, request=request())
    assert len(queries) == 1
    done = TaskResult.objects.get(task_id="t-1")
    assert done.status == states.SUCCESS
    assert done.date_started == started.date_started
    assert done.date_created == started.date_created
    assert done.date_done >= started.date_done
    assert (done.task_name, done.worker) == ("dreamseed.example", "w1@host")
    assert done.task_args == "\"(1, 'a')\"" and done.task_kwargs == "\"{'k': 2}\""
    assert TaskResult.objects.count() == 1

    # Read back through Celery, as AsyncResult does.
    meta = backend.get_task_meta("t-1")
    assert meta["status"] == states.SUCCESS and meta["result"] == {"n": 3}


def test_a_failure_keeps_its_traceback_and_exception(db):
    backend = app.backend
    backend.store_result(
        "t-2",
        ValueError("bad input"),
        states.FAILURE,
        traceback="Traceback...",
        request=request(),
    )
    row = TaskResult.objects.get(task_id="t-2")
    assert row.status == states.FAILURE and row.traceback == "Traceback..."
    meta = backend.get_task_meta("t-2")
    assert isinstance(meta["result"], ValueError)
    assert str(meta["result"]) == "bad input"
