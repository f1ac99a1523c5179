from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Exports"

    def ready(self):
        from . import tasks  # noqa: F401  (registers the export job kind)

    def cleanup_expired(self, now):
        """Delete expired exports and their files (called by the clean-up)."""
        from .services import delete_expired

        return {"exports": delete_expired(now)}
