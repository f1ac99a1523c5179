#!/usr/bin/env python3
"""Set up and run DreamSeed jobs with nothing but Python 3.11.

    python3 run.py demo    # set up, then run the main job on the embedded default
    python3 run.py test    # set up, then run the test suite (PostgreSQL + Redis)
    python3 run.py lint    # ruff: lint rules and formatting

Set-up creates ``.venv`` beside this file and installs ``requirements.txt``
into it (again only when that file changes).
"""

import hashlib
import os
import socket
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV / ".requirements.sha256"


def say(message):
    print(f"==> {message}", flush=True)


def ensure_environment():
    if sys.version_info < (3, 11):  # noqa: UP036  (run by any python3)
        sys.exit("DreamSeed jobs needs Python 3.11 or newer.")
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV}")
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        say("installing requirements (a few minutes the first time)")
        subprocess.run(
            [PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True
        )
        subprocess.run(
            [PYTHON, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS], check=True
        )
        STAMP.write_text(digest)


def manage(*args, env=None):
    return subprocess.run(
        [PYTHON, ROOT / "manage.py", *args], cwd=ROOT, env=env
    ).returncode


def demo(args):
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        say("embedded default: SQLite and a filesystem broker under ./var")
    say("migrating the database")
    if manage("migrate", "--verbosity=0", env=env):
        return 1
    say("running the demo")
    return manage("demo", "--start-worker", *args, env=env)


def port_open(port):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test(args):
    missing = [
        name
        for name, port in (("PostgreSQL", 5432), ("Redis", 6379))
        if not port_open(port)
    ]
    if missing and not os.environ.get("DATABASE_URL"):
        sys.exit(
            f"The tests need {' and '.join(missing)} on 127.0.0.1 (see README, "
            "'Running the tests'); .ci/run starts them."
        )
    command = [PYTHON, "-m", "pytest", *args]
    return subprocess.run(command, cwd=ROOT).returncode


def lint(args):
    ruff = [PYTHON, "-m", "ruff"]
    checked = subprocess.run([*ruff, "check", "."], cwd=ROOT).returncode
    formatted = subprocess.run([*ruff, "format", "--check", "."], cwd=ROOT).returncode
    return checked or formatted


def main():
    commands = {"demo": demo, "test": test, "lint": lint}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 {Path(__file__).name} demo|test|lint [arguments]")
    ensure_environment()
    sys.exit(commands[sys.argv[1]](sys.argv[2:]))


if __name__ == "__main__":
    main()
