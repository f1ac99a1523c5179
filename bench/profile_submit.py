"""Measure what one report submission costs in process; run by hand.

Sends ``POST /api/v1/reports/submit/`` straight through Django's WSGI handler
(the full middleware stack, as under gunicorn, without the network) against
real PostgreSQL and Redis, and prints the CPU time per request, the queries of
one request, or a cProfile of many.

Usage::

    .venv/bin/python bench/profile_submit.py [time|queries|profile]
        [--requests 500] [--idempotency-key]

It uses its own database (``dreamseed_submit_profile`` unless
BENCH_DATABASE_URL says otherwise, created if missing) and Redis database 12,
which it flushes. No server is started and no load is generated: it measures
one process on one core, so it can run beside other work.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL",
    "postgres://postgres@127.0.0.1:5432/dreamseed_submit_profile",
)
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")


def setup_django():
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "dreamseed.settings",
            "DATABASE_URL": DATABASE_URL,
            "CELERY_BROKER_URL": BROKER_URL,
            "DREAMSEED_ALLOW_DEFAULT_SECRET": "1",
            # Submissions are not throttled here: the throttle's cost is
            # still paid, its verdict would only stop the run.
            "DREAMSEED_SUBMIT_RATE": "100000000/minute",
        }
    )
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))

    import psycopg

    server, _, name = DATABASE_URL.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')

    import django

    django.setup()
    from django.core.management import call_command

    import dreamseed  # noqa: F401  (the Celery app)

    call_command("migrate", verbosity=0)


def make_fixtures():
    """Return the token and the body of a submission."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from assessments.models import Assessment, Membership, Organisation, Student

    organisation, _ = Organisation.objects.get_or_create(
        slug="profile", defaults={"name": "Profile"}
    )
    user = get_user_model().objects.filter(username="profile").first()
    if user is None:
        user = get_user_model().objects.create_user("profile", password="unused")
        Membership.objects.create(user=user, organisation=organisation)
    token, _ = Token.objects.get_or_create(user=user)
    student, _ = Student.objects.get_or_create(
        organisation=organisation, external_id="PROFILE-1"
    )
    assessment, _ = Assessment.objects.get_or_create(
        organisation=organisation, code="PROFILE", defaults={"name": "Profile"}
    )
    body = {"student": str(student.pk), "assessment": str(assessment.pk)}
    return token.key, json.dumps({**body, "priority": 7}).encode()


class Submitter:
    """Send one submission through the WSGI handler and check the answer."""

    def __init__(self, token, body, idempotency_key=False):
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.token = token
        self.body = body
        self.idempotency_key = idempotency_key
        self.sent = 0

    def environ(self):
        from django.test.client import FakePayload

        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/reports/submit/",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_AUTHORIZATION": f"Token {self.token}",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(self.body)),
            "wsgi.input": FakePayload(self.body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        if self.idempotency_key:
            environ["HTTP_IDEMPOTENCY_KEY"] = f"profile-{time.time_ns()}-{self.sent}"
        return environ

    def __call__(self):
        self.sent += 1
        status = []
        response = self.handler(
            self.environ(), lambda line, headers, exc_info=None: status.append(line)
        )
        content = b"".join(response)
        response.close()
        if not status[0].startswith("202"):
            raise RuntimeError(f"submission answered {status[0]}: {content!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "mode", nargs="?", default="time", choices=["time", "queries", "profile"]
    )
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--idempotency-key", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key")
    args = parser.parse_args()

    setup_django()
    import redis
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    broker = redis.Redis.from_url(BROKER_URL)
    broker.flushdb()
    submit = Submitter(*make_fixtures(), idempotency_key=args.idempotency_key)
    # Warm up: imports, connections, URL resolver, first-use caches.
    for _ in range(50):
        submit()

    if args.mode == "queries":
        with CaptureQueriesContext(connection) as queries:
            submit()
        for query in queries.captured_queries:
            print(query["sql"][:160])
        print(f"{len(queries.captured_queries)} queries")
    elif args.mode == "profile":
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            submit()
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(60)
        print(out.getvalue())
    else:
        rounds = []
        for _ in range(3):
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.requests):
                submit()
            cpu = (time.process_time() - cpu) / args.requests * 1000
            wall = (time.perf_counter() - wall) / args.requests * 1000
            rounds.append(cpu)
            print(f"{cpu:.2f} ms CPU, {wall:.2f} ms wall per submission")
        print(f"best of 3 rounds of {args.requests}: {min(rounds):.2f} ms CPU")
    broker.flushdb()


if __name__ == "__main__":
    main()
