"""Benchmark the job path end to end; run by hand, prints figures.

(a) Throughput: N no-op ``probe`` jobs submitted through the job service (a
few hundred at a time, as a batch of reports is) and drained by real prefork
workers: one worker with the product's settings, two worker instances (one
parent per core) with them, and two whose children are recycled after 1,000
tasks instead of 100. Side by side, the reference: N bare Celery no-op tasks
storing their results with stock django-celery-results, in Celery's stock
prefork pool.
Besides the rate, it prints the CPU time each task cost, by process (read
from /proc, so Linux only; a recycled child's time is lost, so the first line
undercounts the worker).

(b) Submit latency: the API under gunicorn on 127.0.0.1, a report submission
sent at a fixed rate from a thread pool in this process; latency is measured
from the moment each request was due, so a stalled server is not hidden.

Usage::

    .venv/bin/python bench/bench_jobs.py [--jobs 2000] [--rate 200]
        [--seconds 20] [--skip-throughput] [--skip-api]
        [--workers N --concurrency N --max-tasks-per-child N]

It uses its own database (``dreamseed_jobs_bench`` unless BENCH_DATABASE_URL
says otherwise) and Redis database 11, which it flushes.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dreamseed_jobs_bench"
)
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/11")
ENV = {
    "DJANGO_SETTINGS_MODULE": "dreamseed.settings",
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": BROKER_URL,
    "DREAMSEED_ALLOW_DEFAULT_SECRET": "1",
    "DREAMSEED_VAR_DIR": tempfile.mkdtemp(prefix="dreamseed-bench-"),
    "LOG_LEVEL": "WARNING",
    # The benchmark measures the server, not the per-user limit.
    "DREAMSEED_SUBMIT_RATE": "1000000/minute",
}
os.environ.update(ENV)
sys.path.insert(0, str(ROOT))


def ensure_database():
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    server = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_process(command, log_name, ready=None, timeout=60, env=None):
    log_path = Path(ENV["DREAMSEED_VAR_DIR"]) / log_name
    log = open(log_path, "wb")
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **ENV, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[2]} exited:\n{log_path.read_text()}")
        if ready(log_path):
            return process
        time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"{command} did not start:\n{log_path.read_text()}")


def stop_process(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_worker(max_tasks_per_child=None, concurrency=2, index=0, env=None):
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "dreamseed",
        "worker",
        "--loglevel=WARNING",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
        "-Q",
        "default",
        "-n",
        f"bench-{os.getpid()}-{index}@%h",
    ]
    if max_tasks_per_child:
        command.insert(-2, f"--max-tasks-per-child={max_tasks_per_child}")
    from dreamseed.celery import app

    name = command[-1].replace("%h", socket.gethostname())
    # Logging at WARNING keeps per-task lines out of the measurement, so the
    # "ready." line never comes: ask the worker itself.
    return start_process(
        command,
        f"worker-{index}.log",
        ready=lambda p: bool(app.control.ping(destination=[name], timeout=0.5)),
        env=env,
    )


def vacuum():
    """Clear the dead rows earlier runs left, so every run starts alike.

    Each job is written three times (insert, claim, outcome); hundreds of
    thousands of dead rows from earlier runs made every statement slower.
    """
    from django.db import connection
    from django_celery_results.models import TaskResult

    from jobs.models import Job
    from reports.models import Report

    with connection.cursor() as cursor:
        for model in (Job, Report, TaskResult):
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')


def cpu_seconds():
    """CPU time (user + system) used so far, by kind of process on this host.

    Read from /proc, so Linux only; processes that exited in between are
    missed, which is why the worker runs with child recycling off when these
    figures matter.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {
        "worker": 0.0,
        "postgres": 0.0,
        "redis": 0.0,
        "this process": 0.0,
        "web server": 0.0,
    }
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / ticks
        if int(pid) == os.getpid():
            totals["this process"] += used
        elif b"celery" in command and b" worker " in command:
            totals["worker"] += used
        elif b"gunicorn" in command:
            totals["web server"] += used
        elif command.startswith(b"postgres"):
            totals["postgres"] += used
        elif b"redis-server" in command:
            totals["redis"] += used
    return totals


def cpu_per_task(before, after, n):
    """Milliseconds of CPU per task, by kind of process."""
    return {kind: 1000 * (after[kind] - before[kind]) / n for kind in before}


def wait_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.perf_counter()
        time.sleep(interval)
    raise RuntimeError("timed out")


def bench_bare(n):
    from django_celery_results.models import TaskResult

    from jobs.tasks import diagnostic_noop

    TaskResult.objects.all().delete()
    vacuum()
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    for i in range(n):
        diagnostic_noop.apply_async(args=[i])
    end = wait_until(
        lambda: TaskResult.objects.filter(status="SUCCESS").count() >= n,
        timeout=n,
    )
    return n / (end - start), cpu_per_task(cpu_before, cpu_seconds(), n)


def bench_jobs(n, organisation):
    from django.db import transaction

    from jobs.models import Job
    from jobs.services import create_jobs

    Job.objects.filter(kind=Job.Kind.PROBE).delete()
    vacuum()
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    # Submitted a few hundred at a time, as a batch of reports is: one
    # INSERT, then each job's message once it has committed.
    for offset in range(0, n, 250):
        with transaction.atomic():
            create_jobs(
                organisation=organisation,
                kind=Job.Kind.PROBE,
                params_list=[{}] * min(250, n - offset),
            )
    submitted = time.perf_counter()
    end = wait_until(
        lambda: (
            not Job.objects.filter(kind=Job.Kind.PROBE)
            .exclude(status__in=Job.TERMINAL)
            .exists()
        ),
        timeout=n,
    )
    succeeded = Job.objects.filter(
        kind=Job.Kind.PROBE, status=Job.Status.SUCCEEDED
    ).count()
    if succeeded != n:
        raise RuntimeError(f"only {succeeded} of {n} probe jobs succeeded")
    cpu = cpu_per_task(cpu_before, cpu_seconds(), n)
    return n / (end - start), cpu, submitted - start


def fixtures():
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from assessments.models import Assessment, Membership, Organisation, Student

    organisation, _ = Organisation.objects.get_or_create(
        slug="bench", defaults={"name": "Bench"}
    )
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.get_or_create(user=user, defaults={"organisation": organisation})
    token, _ = Token.objects.get_or_create(user=user)
    student, _ = Student.objects.get_or_create(
        organisation=organisation, external_id="S-1"
    )
    assessment, _ = Assessment.objects.get_or_create(
        organisation=organisation, code="A-1", defaults={"name": "Bench"}
    )
    return organisation, token.key, student, assessment


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_api(token, student, assessment, rate, seconds, workers, threads):
    from jobs.models import Job
    from reports.models import Report

    Report.objects.filter(organisation=student.organisation_id).delete()
    Job.objects.filter(organisation=student.organisation_id).delete()
    vacuum()
    port = free_port()
    server = start_process(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:dreamseed.gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        "gunicorn.log",
        ready=lambda p: _port_open(port),
    )
    body = json.dumps(
        {"student": str(student.pk), "assessment": str(assessment.pk)}
    ).encode()
    headers = {
        "Authorization": f"Token {token}",
        "Content-Type": "application/json",
    }
    local = threading.local()

    def send(due):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.perf_counter() < due:
            time.sleep(max(0.0, due - time.perf_counter()))
        try:
            conn.request("POST", "/api/v1/reports/submit/", body, headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            local.conn = None
            status = 0
        return status, time.perf_counter() - due

    try:
        # Warm up each gunicorn worker's imports and connections.
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, [time.perf_counter()] * 40))
        total = int(rate * seconds)
        start = time.perf_counter() + 0.2
        cpu_before = cpu_seconds()
        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(send, [start + i / rate for i in range(total)]))
        cpu = cpu_per_task(cpu_before, cpu_seconds(), total)
    finally:
        stop_process(server)
    latencies = [ms * 1000 for status, ms in results if status == 202]
    errors = len(results) - len(latencies)
    return latencies, errors, total, cpu


def _port_open(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def throughput_configurations(args):
    """(label, worker instances, worker options) to measure."""
    if args.workers or args.concurrency or args.max_tasks_per_child:
        instances = args.workers or 1
        options = {
            "concurrency": args.concurrency or 2,
            "max_tasks_per_child": args.max_tasks_per_child,
        }
        return [(f"probe jobs, {instances} x {options}", instances, options)]
    return [
        (
            "probe jobs, 1 worker x 2 children, product defaults",
            1,
            {"concurrency": 2},
        ),
        (
            "probe jobs, 2 workers x 2 children, product defaults",
            2,
            {"concurrency": 2},
        ),
        (
            "probe jobs, 2 workers x 2 children, recycled after 1,000 tasks",
            2,
            {"concurrency": 2, "max_tasks_per_child": 1000},
        ),
    ]


def with_workers(instances, options, measure):
    workers = [start_worker(index=index, **options) for index in range(instances)]
    try:
        return measure()
    finally:
        for worker in workers:
            stop_process(worker)


def report(label, unit, rate, cpu, submit_seconds=None):
    cpu = {kind: cpu[kind] for kind in ("worker", "postgres", "redis", "this process")}
    figures = "  ".join(f"{cpu[kind]:5.2f}" for kind in cpu)
    print(f"    {label}")
    line = f"      {rate:7.1f} {unit}   CPU {figures}  = {sum(cpu.values()):5.2f} ms"
    if submit_seconds is not None:
        line += f"   (submitting took {submit_seconds:.1f} s)"
    print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--api-threads", type=int, default=4)
    parser.add_argument(
        "--max-tasks-per-child",
        type=int,
        help="override CELERY_WORKER_MAX_TASKS_PER_CHILD for the workers",
    )
    parser.add_argument(
        "--concurrency", type=int, help="children per worker (measure only this)"
    )
    parser.add_argument(
        "--workers", type=int, help="worker instances (measure only this)"
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args()

    ensure_database()
    setup_django()
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()
    organisation, token, student, assessment = fixtures()

    if not args.skip_throughput:
        print(f"(a) throughput, {args.jobs} no-op tasks, prefork on this machine")
        print("    CPU per task (ms): worker, postgres, redis, submitter")
        for label, instances, options in throughput_configurations(args):
            rate, cpu, submit_seconds = with_workers(
                instances,
                options,
                lambda: bench_jobs(args.jobs, organisation),
            )
            report(label, "jobs/s", rate, cpu, submit_seconds)
        # The reference: a bare task, stock django-celery-results and Celery's
        # stock prefork pool, with every other setting as the product has it.
        rate, cpu = with_workers(
            1,
            {
                "concurrency": 2,
                "env": {
                    "CELERY_RESULT_BACKEND": "django-db",
                    "CELERY_WORKER_POOL": "prefork",
                },
            },
            lambda: bench_bare(args.jobs),
        )
        report("bare task, stock django-celery-results", "tasks/s", rate, cpu)

    if not args.skip_api:
        latencies, errors, total, cpu = bench_api(
            token,
            student,
            assessment,
            args.rate,
            args.seconds,
            args.api_workers,
            args.api_threads,
        )
        print(
            f"(b) submit latency, {total} POST /api/v1/reports/submit/ at "
            f"{args.rate:.0f}/s, gunicorn {args.api_workers} workers x "
            f"{args.api_threads} threads"
        )
        if latencies:
            p50, p95, p99 = (percentile(latencies, f) for f in (0.5, 0.95, 0.99))
            print(
                f"    p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms"
                f"  max {max(latencies):.1f} ms"
            )
        print(f"    non-202 answers or errors: {errors}")
        print(
            "    CPU per request (ms): "
            + ", ".join(f"{kind} {cpu[kind]:.2f}" for kind in cpu if kind != "worker")
        )
        from jobs.models import Job

        Job.objects.filter(organisation=organisation).delete()


if __name__ == "__main__":
    main()
