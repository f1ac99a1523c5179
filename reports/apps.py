import sys

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        from celery.signals import worker_process_shutdown

        from . import signals, tasks  # noqa: F401

        worker_process_shutdown.connect(_stop_renderer, weak=False)


def _stop_renderer(**kwargs):
    """Stop the warm kernel so no kernel process outlives its worker."""
    # A process that rendered nothing has no kernel; importing the renderer
    # only to find that out cost every recycled worker child a fifth of a
    # second.
    rendering = sys.modules.get("reports.rendering")
    if rendering is not None:
        rendering.shutdown()
