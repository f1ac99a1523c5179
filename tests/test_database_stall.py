"""A database server that accepts connections but never answers is given up on.

A PostgreSQL fail-over, a paused machine or a dropped NAT entry can leave the
server's port accepting TCP connections that nothing answers. Without a
connect timeout every request and every job claim waited for ever; the API
server's threads and the workers' children were all held.
"""

import os
import subprocess
import sys

from tests.conftest import ROOT, free_port
from tests.jobs.test_broker_stall import SilentServer

MOST_SECONDS = 45

SCRIPT = """
import time
import django
django.setup()
from django.db import OperationalError, connection
started = time.monotonic()
try:
    connection.ensure_connection()
except OperationalError:
    print("refused", round(time.monotonic() - started, 1))
else:
    print("connected")
"""


def test_connecting_to_a_silent_database_gives_up():
    server = SilentServer()
    try:
        try:
            done = subprocess.run(
                [sys.executable, "-c", SCRIPT],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DJANGO_SETTINGS_MODULE": "dreamseed.settings",
                    "DREAMSEED_ALLOW_DEFAULT_SECRET": "1",
                    "DATABASE_URL": f"postgres://postgres@127.0.0.1:{server.port}/x",
                },
                capture_output=True,
                text=True,
                timeout=MOST_SECONDS,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still connecting after {MOST_SECONDS} s") from None
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split()[0] == "refused", done.stdout
    finally:
        server.close()


def test_a_connect_timeout_in_the_database_url_wins():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; "
            "print(settings.DATABASES['default']['OPTIONS']['connect_timeout'])",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dreamseed.settings",
            "DREAMSEED_ALLOW_DEFAULT_SECRET": "1",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x?connect_timeout=17",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "17"


API_SCRIPT = """
import json
import django
django.setup()
from django.test import Client
response = Client(HTTP_HOST="localhost").get(
    "/api/v1/jobs/", HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567"
)
print(json.dumps({
    "status": response.status_code,
    "type": response["Content-Type"],
    "retry": response.get("Retry-After"),
    "body": json.loads(response.content),
}))
"""


def test_the_api_answers_503_in_json_while_the_database_is_down():
    import json

    closed = free_port()
    done = subprocess.run(
        [sys.executable, "-c", API_SCRIPT],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dreamseed.settings",
            "DREAMSEED_ALLOW_DEFAULT_SECRET": "1",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/x",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {
        "status": 503,
        "type": "application/json",
        "retry": "5",
        "body": {
            "detail": "The database cannot be reached for now; try again shortly.",
            "code": "database_unavailable",
        },
    }
    assert "database unavailable: OperationalError" in done.stderr
