from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from . import logs, metrics

        logs.install_record_factory()
        metrics.connect_task_signals()
