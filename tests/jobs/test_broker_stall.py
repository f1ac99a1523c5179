"""A broker that accepts connections but never answers does not hang publishers.

Redis can stall without closing its TCP connections (a fail-over, a paused
VM, a NAT or firewall dropping the flow): without a socket timeout every
submission's publish would wait for it forever, and a few such requests
would occupy every thread of the API server.
"""

import os
import socket
import subprocess
import sys
import threading
import time

from tests.conftest import ROOT

# Far above what a bounded publish takes (a few socket timeouts), far below
# forever.
MOST_SECONDS = 45

SCRIPT = """
import time
import django
django.setup()
from jobs.models import Job
from jobs.services import send_job
import jobs.tasks  # registers the probe task
started = time.monotonic()
sent = send_job(Job(kind=Job.Kind.PROBE, priority=5), "stalled-broker")
print(sent, round(time.monotonic() - started, 1))
"""


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_a_publish_to_a_silent_broker_gives_up():
    server = SilentServer()
    try:
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-c", SCRIPT],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DJANGO_SETTINGS_MODULE": "dreamseed.settings",
                    "DREAMSEED_ALLOW_DEFAULT_SECRET": "1",
                    "CELERY_BROKER_URL": f"redis://127.0.0.1:{server.port}/0",
                    "CACHE_URL": "",
                },
                capture_output=True,
                text=True,
                timeout=MOST_SECONDS,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the publish was still waiting after {MOST_SECONDS} s"
            ) from None
        assert done.returncode == 0, done.stderr[-3000:]
        sent, seconds = done.stdout.split()
        assert sent == "False", "the broker took nothing: the publish must fail"
        assert time.monotonic() - started < MOST_SECONDS
    finally:
        server.close()
