"""Report failures become readable, permanent job outcomes."""

import shutil
import threading

import pytest
from django.db import transaction
from django.test import override_settings

from assessments.lsat7 import load_lsat7_organisation
from assessments.models import Student
from jobs.models import Job
from jobs.runner import claim, run_job
from reports.models import Report
from reports.services import submit_report
from reports.tasks import render_report

from .conftest import FIXTURES


class FakeTask:
    """Stands in for Celery's bound task object; run_job only reads these."""

    soft_time_limit = None

    def retry(self, **kwargs):
        raise AssertionError(f"a permanent failure must not be retried: {kwargs}")


@pytest.fixture
def report_job(transactional_db):
    organisation, assessment, _ = load_lsat7_organisation()
    student = Student.objects.get(organisation=organisation, external_id="LSAT-0007")
    with transaction.atomic():
        job = submit_report(
            organisation=organisation, student=student, assessment=assessment
        )
    return job


def template_dir_with(tmp_path, fixture_name):
    shutil.copy(FIXTURES / fixture_name, tmp_path / "comprehensive.qmd")
    return tmp_path


def run_in_process(job):
    return run_job(FakeTask(), job.pk, render_report.handler)


def test_a_cell_error_fails_the_job_at_once_with_the_cells_name(report_job, tmp_path):
    with override_settings(
        REPORTS_TEMPLATE_DIR=template_dir_with(tmp_path, "cell_error.qmd")
    ):
        run_in_process(report_job)
    job = Job.objects.get(pk=report_job.pk)
    assert job.status == Job.Status.FAILED
    assert job.attempts == 1
    assert job.error_code == "template_error"
    assert "broken-cell" in job.error and "ValueError" in job.error
    report = Report.objects.get(job=job)
    assert report.status == Report.Status.FAILED
    assert report.error == job.error


def test_a_render_past_its_limit_is_stopped_and_recorded(report_job, tmp_path):
    # The slow fixture writes its child's pid to a file named in the data.
    from reports import services

    original = services.build_report_data

    def with_pid_file(report):
        return {**original(report), "pid_file": str(tmp_path / "pid")}

    services.build_report_data = with_pid_file
    try:
        with override_settings(
            REPORTS_TEMPLATE_DIR=template_dir_with(tmp_path, "slow.qmd"),
            REPORTS_RENDER_TIMEOUT_SECONDS=3,
        ):
            run_in_process(report_job)
    finally:
        services.build_report_data = original
    job = Job.objects.get(pk=report_job.pk)
    assert job.status == Job.Status.FAILED
    assert job.error_code == "render_timeout"
    assert "limit of 3 s" in job.error
    assert Report.objects.get(job=job).status == Report.Status.FAILED

    # The child started by the cell died with the kernel's process group (a
    # zombie until init reaps it counts as dead).
    import psutil

    from tests.conftest import wait_for

    child = int((tmp_path / "pid").read_text())

    def dead():
        try:
            return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(dead, timeout=10, message=f"process {child} to die")


def test_a_cancelled_queued_report_is_marked_cancelled(report_job):
    from jobs.services import cancel_job

    cancel_job(report_job)
    assert Report.objects.get(job=report_job).status == Report.Status.CANCELLED
    assert claim(report_job.pk) is None, "a cancelled job is never started"


def test_a_storage_outage_is_retried_not_failed(report_job, monkeypatch):
    from django.core.files.storage import FileSystemStorage

    def unavailable(self, name, content, max_length=None):
        raise OSError("storage offline")

    monkeypatch.setattr(FileSystemStorage, "save", unavailable)
    retried = threading.Event()

    class RecordingTask(FakeTask):
        def retry(self, **kwargs):
            retried.set()
            from celery.exceptions import Retry

            raise Retry()

    from celery.exceptions import Retry

    with pytest.raises(Retry):
        run_job(RecordingTask(), report_job.pk, render_report.handler)
    assert retried.is_set()
    job = Job.objects.get(pk=report_job.pk)
    assert job.status == Job.Status.QUEUED
    assert "storage offline" in job.error
