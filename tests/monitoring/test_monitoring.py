"""Metrics, health, task and job ids in logs, and Flower behind a password."""

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from jobs.models import Job
from jobs.services import create_job
from monitoring import metrics
from tests.conftest import ROOT, wait_for, wait_for_job
from tests.notifications.servers import free_port

TOKEN = "metrics-token-for-tests"


def scrape(client, **headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def submit_probes(organisation, count, seconds=0.0, priority=None):
    with transaction.atomic():
        return [
            create_job(
                organisation=organisation,
                kind=Job.Kind.PROBE,
                params={"seconds": seconds},
                priority=priority,
            )
            for _ in range(count)
        ]


def test_metrics_need_staff_or_the_token(settings, user, django_user_model):
    settings.METRICS_TOKEN = TOKEN
    client = APIClient()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert (
        client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    )

    client.force_login(user)
    assert client.get("/metrics").status_code == 403
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200

    settings.METRICS_TOKEN = ""
    anonymous = APIClient()
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_signal_handlers_count_by_task_name():
    class Task:
        name = "dreamseed.tests.example"

    def current(name):
        return metrics.REGISTRY_VALUE(name, task=Task.name)

    before = {
        name: current(name)
        for name in (
            "dreamseed_celery_tasks_started_total",
            "dreamseed_celery_tasks_succeeded_total",
            "dreamseed_celery_tasks_failed_total",
            "dreamseed_celery_tasks_retried_total",
            "dreamseed_celery_task_duration_seconds_count",
        )
    }
    metrics.on_prerun(task_id="t1", task=Task())
    metrics.on_postrun(task_id="t1", task=Task(), state="SUCCESS")
    metrics.on_prerun(task_id="t2", task=Task())
    metrics.on_failure(sender=Task())
    metrics.on_postrun(task_id="t2", task=Task(), state="FAILURE")
    metrics.on_retry(sender=Task())
    after = {name: current(name) for name in before}
    assert {name: after[name] - before[name] for name in before} == {
        "dreamseed_celery_tasks_started_total": 2,
        "dreamseed_celery_tasks_succeeded_total": 1,
        "dreamseed_celery_tasks_failed_total": 1,
        "dreamseed_celery_tasks_retried_total": 1,
        "dreamseed_celery_task_duration_seconds_count": 2,
    }


def test_queue_keys_follow_kombu_lane_naming(settings):
    keys = metrics.queue_keys("exports")
    assert keys[0] == "exports"
    assert keys[1:] == [f"exports:{n}" for n in range(1, 10)]


@pytest.mark.integration
def test_queue_lengths_and_jobs_by_status(
    organisation, transactional_db, flush_broker, redis_client, settings
):
    settings.METRICS_TOKEN = TOKEN
    # Nobody consumes: the messages wait in their priority lanes.
    submit_probes(organisation, 3, priority=9)
    submit_probes(organisation, 2, priority=2)
    wait_for(lambda: Job.objects.filter(published_at__isnull=False).count() == 5)
    assert redis_client.llen("default") == 3, "priority 9 is broker lane 0"
    assert redis_client.llen("default:7") == 2

    samples = scrape(APIClient(), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert value(samples, "dreamseed_queue_length", queue="default") == 5
    assert value(samples, "dreamseed_queue_length", queue="exports") == 0
    assert value(samples, "dreamseed_jobs", kind="probe", status="queued") == 5


@pytest.mark.integration
def test_task_metrics_add_up_across_worker_processes(
    organisation, worker_factory, tmp_path, monkeypatch, settings
):
    settings.METRICS_TOKEN = TOKEN
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    worker = worker_factory(
        concurrency=2, env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    )
    jobs = submit_probes(organisation, 8, seconds=0.3)
    for job in jobs:
        assert wait_for_job(job.pk).status == Job.Status.SUCCEEDED
    claimants = set(Job.objects.values_list("claimed_by", flat=True))
    assert len(claimants) == 2, "both worker processes ran probes"

    name = "dreamseed.jobs.probe"
    samples = wait_for(
        lambda: (
            (s := scrape(APIClient(), HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
            and value(s, "dreamseed_celery_tasks_succeeded_total", task=name) == 8
            and s
        ),
        timeout=10,
        message="eight successes in the metrics",
    )
    assert value(samples, "dreamseed_celery_tasks_started_total", task=name) == 8
    assert value(samples, "dreamseed_celery_tasks_failed_total", task=name) == 0
    assert (
        value(samples, "dreamseed_celery_task_duration_seconds_count", task=name) == 8
    )
    total = value(samples, "dreamseed_celery_task_duration_seconds_sum", task=name)
    assert 8 * 0.3 <= total < 8 * 5
    assert value(samples, "dreamseed_jobs", kind="probe", status="succeeded") == 8
    assert len(list(tmp_path.glob("counter_*.db"))) >= 2

    # Every log line of a task names its task and job.
    job = Job.objects.get(pk=jobs[0].pk)
    line = next(
        line for line in worker.output().splitlines() if f"job {job.pk} started" in line
    )
    assert f"[task={job.celery_task_id} job={job.pk}]" in line


@pytest.mark.integration
def test_health_reports_each_part(worker_factory, settings):
    client = APIClient()
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "ok", "workers": "failed"},
    }

    worker_factory(queues=["default"])
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "workers": "ok"},
    }

    # A broker nobody listens on (a closed port of this machine).
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "broker": "failed",
        "workers": "skipped",
    }
    assert time.monotonic() - started < 10


def test_flower_command_refuses_to_start_without_a_password(settings):
    settings.FLOWER_BASIC_AUTH = ""
    with pytest.raises(CommandError):
        call_command("flower")
    settings.FLOWER_BASIC_AUTH = "admin:"
    with pytest.raises(CommandError):
        call_command("flower")


@pytest.mark.integration
def test_flower_asks_for_the_password_but_leaves_metrics_open(db):
    from monitoring.management.commands.flower import flower_argv

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dreamseed.test_settings",
    }
    argv = flower_argv(basic_auth="ops:secret", address="127.0.0.1", port=port)
    assert argv[0] == sys.executable
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def status(path, auth=None):
        request = urllib.request.Request(base + path)
        if auth:
            token = base64.b64encode(auth.encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    try:
        wait_for(lambda: status("/healthcheck"), timeout=30, message="Flower")
        assert status("/api/workers") == 401
        assert status("/api/workers", auth="ops:wrong") == 401
        assert status("/api/workers", auth="ops:secret") == 200
        # Documented caveat: Flower serves /metrics without authentication.
        assert status("/metrics") == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.integration
def test_workers_send_task_events_once_asked_as_flower_does(worker):
    import threading

    from dreamseed.celery import app
    from jobs.tasks import diagnostic_noop

    def events_around_a_task(seconds):
        """Run a task; return the events heard meanwhile, and the task's id."""
        heard = []

        def listen(connection):
            receiver = app.events.Receiver(
                connection, handlers={"*": lambda event: heard.append(event)}
            )
            try:
                receiver.capture(limit=50, timeout=seconds, wakeup=False)
            except (TimeoutError, OSError):
                pass  # nothing more came, or the connection was closed

        with app.connection_for_read() as connection:
            # A daemon thread joined with a deadline: the test cannot hang.
            thread = threading.Thread(target=listen, args=(connection,), daemon=True)
            thread.start()
            time.sleep(1)  # the receiver's queue is bound by now
            diagnostic_noop.apply_async(args=[1]).get(timeout=30)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not any(
                e["type"] == "task-succeeded" for e in heard
            ):
                time.sleep(0.1)
        thread.join(5)
        return heard

    # Worker heartbeats are always sent; task events are off by default.
    heard = events_around_a_task(seconds=3)
    assert [e["type"] for e in heard if e["type"].startswith("task-")] == []

    replies = app.control.enable_events(reply=True, timeout=5)
    assert [list(reply.values())[0] for reply in replies] == [
        {"ok": "task events enabled"}
    ]
    heard = events_around_a_task(seconds=20)
    types = [event["type"] for event in heard]
    assert {"task-received", "task-started", "task-succeeded"} <= set(types)


def test_health_with_the_database_down_is_503_naming_it():
    # A process of its own whose database is a closed port of this machine:
    # the real connection attempt fails, nothing is faked.
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/health/', HTTP_HOST='localhost');"
        "print(r.status_code, json.dumps(r.json(), sort_keys=True))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dreamseed.test_settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nothing",
        "HEALTH_TIMEOUT_SECONDS": "1",
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    status, body = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "503"
    assert json.loads(body) == {
        "status": "unavailable",
        "checks": {"broker": "ok", "database": "failed", "workers": "failed"},
    }
    assert time.monotonic() - started < 30


def test_a_failed_health_check_logs_one_line_without_a_traceback(
    transactional_db, flush_broker, caplog
):
    caplog.set_level("WARNING", logger="monitoring.health")
    response = APIClient().get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == "failed"
    [record] = [r for r in caplog.records if r.name == "monitoring.health"]
    assert record.getMessage() == (
        "health check workers failed: RuntimeError: no worker answered the ping"
    )
    assert record.exc_info is None
