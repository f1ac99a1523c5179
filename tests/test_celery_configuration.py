"""Celery settings the design depends on, checked on the loaded app."""

from django.conf import settings

from dreamseed.celery import app


def test_visibility_timeout_exceeds_every_hard_time_limit():
    app.loader.import_default_modules()
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    limits = {
        name: task.time_limit or app.conf.task_time_limit
        for name, task in app.tasks.items()
        if name.startswith("dreamseed.")
    }
    assert "dreamseed.calibration.calibrate_item_bank" in limits
    for name, limit in limits.items():
        assert limit is not None, f"{name} has no hard time limit"
        assert limit < timeout, (
            f"{name}: time limit {limit} s >= visibility {timeout} s"
        )


def test_worker_and_message_settings():
    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.timezone == "UTC" and conf.enable_utc
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_max_tasks_per_child == 100
    assert conf.worker_pool == "dreamseed.pool:TaskPool"
    assert conf.result_expires == 24 * 3600
    assert conf.result_extended
    assert conf.task_default_priority == 4  # the API's 5 on Redis's reversed scale
    options = conf.broker_transport_options
    assert options["priority_steps"] == list(range(10))
    assert options["queue_order_strategy"] == "priority"
    assert {q.name for q in conf.task_queues} >= {"reports", "irt", "emails", "exports"}
    assert settings.CELERY_BEAT_SCHEDULER.startswith("django_celery_beat")
