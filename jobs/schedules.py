"""The periodic schedules, kept as django-celery-beat rows staff can edit."""

import logging

logger = logging.getLogger(__name__)

# name: (task, crontab fields). Times are UTC.
DEFAULT_SCHEDULES = {
    "Sweep lost and stale jobs": (
        "dreamseed.jobs.sweep",
        {"minute": "*", "hour": "*", "day_of_week": "*"},
    ),
    "Clean up expired data": (
        "dreamseed.maintenance.cleanup",
        {"minute": "0", "hour": "1", "day_of_week": "*"},
    ),
    "Aggregate daily analytics": (
        "dreamseed.analytics.aggregate_daily",
        {"minute": "0", "hour": "2", "day_of_week": "*"},
    ),
    "Calibrate every item bank": (
        "dreamseed.calibration.calibrate_all_item_banks",
        {"minute": "0", "hour": "3", "day_of_week": "0"},
    ),
}


def ensure_schedules(verbosity=1):
    """Create any missing schedule row; rows staff edited are left alone."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = 0
    for name, (task, fields) in DEFAULT_SCHEDULES.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            day_of_month="*", month_of_year="*", timezone="UTC", **fields
        )
        PeriodicTask.objects.create(name=name, task=task, crontab=crontab)
        created += 1
        if verbosity >= 1:
            logger.info("created schedule %r", name)
    return created
