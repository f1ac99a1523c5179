"""The Celery application of DreamSeed jobs."""

import os

# One BLAS thread per worker process: with two, a calibration used twice the
# CPU for the same wall time on a 2-core machine. Set before numpy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dreamseed.settings")

from celery import Celery  # noqa: E402

app = Celery("dreamseed")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
