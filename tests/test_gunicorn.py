"""The API served by gunicorn with the project's settings for it."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from tests.conftest import ROOT, _test_database_url, free_port, wait_for


def request(url, data=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    body = json.dumps(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=body, headers=headers), timeout=10
        ) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def gunicorn(transactional_db, flush_broker):
    port = free_port()
    log_path = os.path.join(os.environ["DREAMSEED_VAR_DIR"], f"gunicorn-{port}.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:dreamseed.gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "dreamseed.test_settings",
                "DATABASE_URL": _test_database_url(),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited:\n{open(log_path).read()}")
            try:
                request(f"{base}/api/v1/jobs/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{open(log_path).read()}")
                time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_gunicorn_with_the_projects_settings_serves_the_api(
    gunicorn, user, organisation
):
    gunicorn, pid = gunicorn
    # Its control socket is its own, not the one every server of the user
    # would share by default.
    control = os.path.join(os.environ["DREAMSEED_VAR_DIR"], f"gunicorn-{pid}.ctl")
    wait_for(lambda: os.path.exists(control), timeout=10, message="control socket")
    from assessments.models import Assessment, Student
    from jobs.models import Job

    token = Token.objects.create(user=user).key
    student = Student.objects.create(organisation=organisation, external_id="S-1")
    assessment = Assessment.objects.create(
        organisation=organisation, code="A", name="A"
    )

    assert request(f"{gunicorn}/api/v1/jobs/")[0] == 401
    for _ in range(3):
        status, job = request(
            f"{gunicorn}/api/v1/reports/submit/",
            {"student": str(student.pk), "assessment": str(assessment.pk)},
            token,
        )
        assert status == 202, job
    status, listing = request(f"{gunicorn}/api/v1/jobs/?kind=report", token=token)
    assert status == 200
    assert {item["id"] for item in listing["results"]} == set(
        str(pk) for pk in Job.objects.values_list("pk", flat=True)
    )
    assert len(listing["results"]) == 3


FREEZE_SCRIPT = """
import gc
from dreamseed import gunicorn as config

class Worker:
    pass

worker = Worker()
config.post_worker_init(worker)
at_start = gc.get_freeze_count()
built = [[index] for index in range(1000)]  # what requests leave behind
for _ in range(config.WARM_UP_REQUESTS - 1):
    config.post_request(worker, None, {}, None)
before_warm_up = gc.get_freeze_count()
config.post_request(worker, None, {}, None)
print(at_start, before_warm_up, gc.get_freeze_count() - before_warm_up)
"""


def test_the_worker_freezes_what_it_loaded_and_what_its_first_requests_built():
    # In a process of its own: freezing is for good.
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    at_start, before_warm_up, added = map(int, done.stdout.split())
    assert at_start > 1_000
    assert before_warm_up == at_start
    assert added >= 1001


def load_wsgi_in_a_new_process(**env):
    script = (
        "import sys\n"
        "before = {'jobs.views', 'rest_framework.serializers'} & set(sys.modules)\n"
        "import dreamseed.wsgi\n"
        "after = {'jobs.views', 'rest_framework.serializers'} & set(sys.modules)\n"
        "print(sorted(before), sorted(after))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dreamseed.settings",
            "DREAMSEED_ALLOW_DEFAULT_SECRET": "1",
            "DATABASE_URL": _test_database_url(),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def test_the_wsgi_module_loads_the_views_before_the_first_request():
    out, _ = load_wsgi_in_a_new_process()
    assert out == "[] ['jobs.views', 'rest_framework.serializers']"


def test_the_wsgi_module_loads_with_redis_down_and_says_so():
    closed = free_port()
    out, err = load_wsgi_in_a_new_process(
        CELERY_BROKER_URL=f"redis://127.0.0.1:{closed}/0", CACHE_URL=""
    )
    assert out == "[] ['jobs.views', 'rest_framework.serializers']"
    assert "cache 'default' unreachable at start" in err
