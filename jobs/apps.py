from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        from . import tasks  # noqa: F401  (registers the probe kind)

        post_migrate.connect(_create_schedules, sender=self)


def _create_schedules(verbosity=1, **kwargs):
    from .schedules import ensure_schedules

    ensure_schedules(verbosity=verbosity)
