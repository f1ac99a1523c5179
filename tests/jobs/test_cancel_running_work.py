"""A running render or calibration, cancelled, stops part-way and says so.

Through a real worker against PostgreSQL and Redis, as a client would: the
job is cancelled through the API while its work is under way.
"""

from pathlib import Path

import pypdf
import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from assessments.lsat7 import load_lsat7_organisation
from calibration.models import CalibrationRun, ItemParameter
from calibration.services import current_run, submit_calibration
from jobs.models import Job
from reports.models import Report
from reports.services import submit_report
from tests.calibration.test_calibration_jobs import simulated_bank
from tests.conftest import make_user, wait_for, wait_for_job

# Ten cells of 0.3 s each: 3 s when it runs to the end.
SLOW_TEMPLATES = Path(__file__).resolve().parent.parent / "reports" / "slow_templates"


@pytest.fixture
def lsat7(transactional_db):
    organisation, assessment, _ = load_lsat7_organisation()
    return organisation, assessment


def api_for(organisation):
    client = APIClient()
    user = make_user(organisation, "canceller")
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}"
    )
    return client


def wait_for_step(job, step):
    def reached():
        job.refresh_from_db()
        assert job.status in (Job.Status.QUEUED, Job.Status.RUNNING), job.status
        return job.status == Job.Status.RUNNING and job.progress_step == step

    wait_for(reached, timeout=60, interval=0.05, message=f"step {step!r}")


def test_a_running_render_stops_between_cells(lsat7, worker_factory):
    organisation, assessment = lsat7
    worker_factory(env={"DREAMSEED_TEST_TEMPLATE_DIR": str(SLOW_TEMPLATES)})
    student = organisation.students.order_by("external_id").first()
    with transaction.atomic():
        job = submit_report(
            organisation=organisation, student=student, assessment=assessment
        )
    report = Report.objects.get(job=job)
    wait_for_step(job, "rendering")

    asked = timezone.now()
    response = api_for(organisation).post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    job = wait_for_job(job.pk, timeout=30)
    assert (job.status, job.error_code) == (Job.Status.CANCELLED, "cancelled")
    assert job.error == "Cancelled while running."
    # Stopped part-way: well before the render's 3 s would have ended.
    assert (job.finished_at - asked).total_seconds() < 2.0
    # Set by the job's end signal, just after the outcome is written.
    wait_for(
        lambda: Report.objects.get(pk=report.pk).status == Report.Status.CANCELLED,
        timeout=10,
        message="the report to say cancelled",
    )
    report.refresh_from_db()
    assert not report.pdf

    # The worker's kernel was left clean: the next report renders in full.
    with transaction.atomic():
        again = submit_report(
            organisation=organisation, student=student, assessment=assessment
        )
    job = wait_for_job(again.pk, timeout=60)
    assert job.status == Job.Status.SUCCEEDED, job.error
    again = Report.objects.get(job=job)
    with again.pdf.open("rb") as pdf:
        text = "".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages)
    assert "step 10 done" in text


def test_a_running_calibration_stops_and_changes_nothing(transactional_db, worker):
    organisation, _ = simulated_bank(n_persons=1000, n_items=20)
    # A tolerance no fit reaches: it would iterate for about 13 s.
    with transaction.atomic():
        job = submit_calibration(organisation, method="mml", max_iter=20000, tol=1e-300)
    wait_for_step(job, "fitting")

    client = api_for(organisation)
    asked = timezone.now()
    response = client.post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    job = wait_for_job(job.pk, timeout=30)
    assert (job.status, job.error) == (Job.Status.CANCELLED, "Cancelled while running.")
    assert (job.finished_at - asked).total_seconds() < 3.0
    run = CalibrationRun.objects.get(job=job)
    # The job names the run it leaves behind, as a finished one does.
    assert job.result == {"calibration_run": str(run.pk), "method": "mml"}
    links = client.get(f"/api/v1/jobs/{job.pk}/").json()["links"]
    assert links["calibration_run"].endswith(f"/api/v1/calibrations/{run.pk}/")
    assert (run.status, run.error) == (
        CalibrationRun.Status.CANCELLED,
        "Cancelled while running.",
    )
    assert not ItemParameter.objects.filter(run=run).exists()
    assert current_run(organisation) is None
