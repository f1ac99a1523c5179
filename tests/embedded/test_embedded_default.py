"""The embedded default: SQLite and the filesystem broker, several processes.

SQLite with several writers is prone to "database is locked"; the settings
use WAL, IMMEDIATE transactions and a busy timeout. This runs the real thing
in subprocesses with no DATABASE_URL or CELERY_BROKER_URL set.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def embedded_env(var_dir):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["DREAMSEED_VAR_DIR"] = str(var_dir)
    env["DJANGO_SETTINGS_MODULE"] = "dreamseed.settings"
    return env


def manage(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_two_worker_processes_share_sqlite_without_locking_errors(tmp_path):
    env = embedded_env(tmp_path)
    assert manage(env, "migrate", "--verbosity=0").returncode == 0
    setup = (
        "from assessments.models import Organisation;"
        "Organisation.objects.get_or_create(slug='embedded', defaults={'name': 'E'})"
    )
    assert manage(env, "shell", "-c", setup).returncode == 0

    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dreamseed", "worker",
         "--concurrency=2", "--loglevel=INFO", "-Q", "default"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        result = manage(env, "probe", "embedded", "--count", "200", "--timeout", "90")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    output = result.stdout + result.stderr
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")
    assert result.returncode == 0, output + worker_log[-3000:]
    assert "200 of 200 probes succeeded" in result.stdout
    # One INSERT and one line for the lot, not one per probe.
    assert output.count("200 probe jobs queued") == 1
    assert not re.search(r"job [0-9a-f-]{36} queued", output)
    assert "database is locked" not in worker_log
    assert not (ROOT / "control").exists(), "broker files must stay under the var dir"
