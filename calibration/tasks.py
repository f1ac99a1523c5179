"""Celery tasks of the calibration app."""

import logging

from celery import shared_task
from django.conf import settings

from jobs.models import Job
from jobs.runner import job_task

from . import services

logger = logging.getLogger(__name__)


@job_task(
    kind=Job.Kind.CALIBRATION,
    name="dreamseed.calibration.calibrate_item_bank",
    soft_time_limit=settings.CALIBRATION_TIME_LIMIT_SECONDS,
    time_limit=settings.CALIBRATION_TIME_LIMIT_SECONDS + 60,
)
def calibrate_item_bank(job, ctx):
    """Calibrate the job's organisation's item bank."""
    return services.run_calibration(job, progress=ctx.progress)


@shared_task(name="dreamseed.calibration.calibrate_all_item_banks", ignore_result=True)
def calibrate_all_item_banks():
    """Submit one calibration job per organisation that has responses."""
    submitted = services.submit_all_calibrations()
    logger.info("weekly calibration: %s jobs submitted", submitted)
    return submitted
