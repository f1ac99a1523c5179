"""gunicorn's settings for the API server.

Used as ``gunicorn -c python:dreamseed.gunicorn``; options given on the
command line (``--bind``, ``--workers``...) or in ``GUNICORN_CMD_ARGS`` win.

The part that matters is the garbage collector. A worker holds several
hundred thousand objects that live as long as it does (Django, DRF, the
apps, the URL and serializer caches built by the first requests); every full
collection walked them all, 40-100 ms during which the worker answered no
one, and at 200 requests/s that was the slowest one in a hundred. Frozen
(``gc.freeze``), they are skipped: once when the worker has loaded the
application, and again when its first requests have built what they build
lazily.
"""

import gc
import os
from pathlib import Path

wsgi_app = "dreamseed.wsgi"
worker_class = "gthread"
workers = 2
threads = 4
keepalive = 30

# gunicorn's control socket is one path per user by default, so a second
# server on the machine took it over and removed it when it stopped. One per
# server here, named by the server's process id, in the project's var dir.
_var_dir = Path(
    os.environ.get("DREAMSEED_VAR_DIR", Path(__file__).resolve().parent.parent / "var")
)
_var_dir.mkdir(parents=True, exist_ok=True)
control_socket = str(_var_dir / f"gunicorn-{os.getpid()}.ctl")

# Requests a worker serves before what they built lazily is frozen too.
WARM_UP_REQUESTS = 200


def post_worker_init(worker):
    gc.collect()
    gc.freeze()
    worker.dreamseed_requests = 0


def post_request(worker, req, environ, resp):
    worker.dreamseed_requests = getattr(worker, "dreamseed_requests", 0) + 1
    if worker.dreamseed_requests == WARM_UP_REQUESTS:
        # Only the young generations are collected first: a full collection
        # here would itself be the stall this avoids. What garbage the old
        # generation holds now stays, once.
        gc.collect(1)
        gc.freeze()
