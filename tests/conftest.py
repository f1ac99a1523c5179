"""Fixtures shared by the whole suite: organisations, API clients, a worker."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def organisation(db):
    from assessments.models import Organisation

    return Organisation.objects.create(name="Springfield High", slug="springfield")


@pytest.fixture
def other_organisation(db):
    from assessments.models import Organisation

    return Organisation.objects.create(name="Shelbyville High", slug="shelbyville")


def make_user(organisation, username):
    from django.contrib.auth import get_user_model

    from assessments.models import Membership

    user = get_user_model().objects.create_user(username, password="pw-" + username)
    Membership.objects.create(user=user, organisation=organisation)
    return user


@pytest.fixture
def user(organisation):
    return make_user(organisation, "teacher")


@pytest.fixture
def api(user):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}"
    )
    return client


@pytest.fixture
def other_api(other_organisation):
    other = make_user(other_organisation, "intruder")
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other).key}"
    )
    return client


@pytest.fixture(scope="session")
def redis_client():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.ping()
    return client


class Worker:
    """A real Celery worker process on the test database and broker."""

    def __init__(self, concurrency=1, queues=None, env=None):
        self.concurrency = concurrency
        self.queues = queues or [q.name for q in settings.CELERY_TASK_QUEUES]
        self.env = env or {}
        self.process = None

    def start(self):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dreamseed.test_settings",
            "DATABASE_URL": _test_database_url(),
            "DREAMSEED_VAR_DIR": os.environ["DREAMSEED_VAR_DIR"],
            **self.env,
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dreamseed",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={self.concurrency}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            ",".join(self.queues),
            "-n",
            f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]
        self.log_path = (
            Path(os.environ["DREAMSEED_VAR_DIR"]) / f"worker-{time.monotonic_ns()}.log"
        )
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.output()}")
            if b"ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.output()}")

    def output(self):
        return self.log_path.read_text(errors="replace")

    def child_pids(self):
        import psutil

        return [c.pid for c in psutil.Process(self.process.pid).children()]

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        self.log.close()


def free_port():
    """A port of 127.0.0.1 that nothing listens on (until someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url():
    db = settings.DATABASES["default"]
    return (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )


@pytest.fixture
def flush_broker(redis_client):
    redis_client.flushdb()
    yield
    redis_client.flushdb()


@pytest.fixture
def worker_factory(transactional_db, flush_broker):
    """Start real workers for a test; every one is stopped afterwards."""
    started = []

    def start(**kwargs):
        worker = Worker(**kwargs).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(worker_factory):
    return worker_factory(concurrency=1)


def wait_for(predicate, timeout=60, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def wait_for_job(job_id, timeout=120, statuses=None):
    from jobs.models import Job

    statuses = statuses or Job.TERMINAL

    def done():
        job = Job.objects.get(pk=job_id)
        return job if job.status in statuses else None

    return wait_for(done, timeout=timeout, message=f"job {job_id} to reach {statuses}")


def pytest_sessionfinish(session, exitstatus):
    """Remove the temporary var folder this test process made."""
    import shutil

    if os.environ.get("DREAMSEED_TEST_VAR_DIR_OWNER") == str(os.getpid()):
        shutil.rmtree(os.environ["DREAMSEED_VAR_DIR"], ignore_errors=True)
