"""Celery tasks of the analytics app."""

import datetime
import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="dreamseed.analytics.aggregate_daily", ignore_result=True)
def aggregate_daily(day=None):
    """Aggregate ``day`` (ISO date), by default yesterday in UTC."""
    day = datetime.date.fromisoformat(day) if day else services.yesterday_utc()
    return services.aggregate_day(day)
