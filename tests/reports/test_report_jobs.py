"""Reports as jobs: data from the database, rendered by a real worker."""

import hashlib
import io

import pypdf
import pytest
from django.db import transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from assessments.lsat7 import load_lsat7_organisation
from assessments.models import Student
from calibration.models import AbilityEstimate
from calibration.services import current_run, run_calibration
from jobs.models import Job
from jobs.services import create_job
from reports.models import Report
from reports.services import build_report_data, submit_report
from tests.conftest import make_user, wait_for_job


@pytest.fixture
def lsat7(transactional_db):
    organisation, assessment, _ = load_lsat7_organisation()
    return organisation, assessment


@pytest.fixture
def calibrated(lsat7):
    organisation, assessment = lsat7
    with transaction.atomic():
        job = create_job(
            organisation=organisation,
            kind=Job.Kind.CALIBRATION,
            params={"method": "mml"},
            publish=False,
        )
    run_calibration(job)
    return organisation, assessment


@pytest.fixture
def client_for(lsat7):
    organisation, _ = lsat7
    user = make_user(organisation, "lsat-teacher")
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}"
    )
    return client


def pdf_text(data):
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def shown(value):
    """Format a number as the templates print it (two decimals, true minus)."""
    return f"{value:.2f}".replace("-", "\u2212")


def test_report_data_has_the_trajectory_and_ability(calibrated):
    organisation, assessment = calibrated
    student = Student.objects.get(organisation=organisation, external_id="LSAT-0500")
    with transaction.atomic():
        job = submit_report(
            organisation=organisation, student=student, assessment=assessment
        )
    data = build_report_data(Report.objects.get(job=job))
    estimate = AbilityEstimate.objects.get(
        run=current_run(organisation), student=student
    )
    assert data["ability"] == {"theta": estimate.theta, "se": estimate.se}
    assert data["student"]["external_id"] == "LSAT-0500"
    assert [step["position"] for step in data["trajectory"]] == [1, 2, 3, 4, 5]
    # After all five responses the EAP trajectory ends at the run's EAP.
    assert data["trajectory"][-1]["theta"] == pytest.approx(estimate.theta, abs=1e-3)
    assert all(step["se"] > 0 for step in data["trajectory"])
    correct = sum(step["correct"] for step in data["trajectory"])
    assert data["summary"] == {
        "items_answered": 5,
        "correct": correct,
        "accuracy": round(correct / 5, 4),
    }


def test_report_data_without_calibration_says_so(lsat7):
    organisation, assessment = lsat7
    student = Student.objects.get(organisation=organisation, external_id="LSAT-0001")
    with transaction.atomic():
        job = submit_report(
            organisation=organisation, student=student, assessment=assessment
        )
    data = build_report_data(Report.objects.get(job=job))
    assert data["ability"] is None and data["calibration"] is None
    assert all(step["theta"] is None for step in data["trajectory"])


@pytest.mark.integration
def test_report_rendered_by_a_worker_and_downloaded(
    calibrated, client_for, worker, other_api
):
    organisation, assessment = calibrated
    student = Student.objects.get(organisation=organisation, external_id="LSAT-0500")
    response = client_for.post(
        "/api/v1/reports/submit/",
        {"student": str(student.pk), "assessment": str(assessment.pk), "priority": 8},
        format="json",
    )
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["id"], timeout=180)
    assert job.status == Job.Status.SUCCEEDED, job.error

    report = Report.objects.get(job=job)
    assert report.status == Report.Status.SUCCEEDED
    assert report.engine == "builtin"
    pdf = report.pdf.read()
    assert report.pdf_size == len(pdf)
    assert report.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    estimate = AbilityEstimate.objects.get(
        run=current_run(organisation), student=student
    )
    text = pdf_text(pdf)
    assert "LSAT-0500" in text
    assert shown(estimate.theta) in text
    images = sum(len(page.images) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert images >= 1, "the ability trajectory plot must be embedded"

    links = client_for.get(f"/api/v1/jobs/{job.pk}/").json()["links"]
    download = client_for.get(links["pdf"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == pdf
    assert other_api.get(links["pdf"]).status_code == 404

    # The same data and template reuse the stored PDF.
    again = client_for.post(
        "/api/v1/reports/submit/",
        {"student": str(student.pk), "assessment": str(assessment.pk)},
        format="json",
    )
    second = wait_for_job(again.json()["id"], timeout=60)
    assert second.status == Job.Status.SUCCEEDED, second.error
    reused = Report.objects.get(job=second)
    assert reused.reused is True
    assert reused.pdf.name == report.pdf.name


@pytest.mark.integration
def test_batch_of_reports_counts_its_members(calibrated, client_for, worker):
    organisation, assessment = calibrated
    students = Student.objects.filter(organisation=organisation).order_by(
        "external_id"
    )[:3]
    response = client_for.post(
        "/api/v1/reports/batch/",
        {
            "assessment": str(assessment.pk),
            "students": [str(s.pk) for s in students],
            "report_type": "summary",
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    batch = wait_for_job(response.json()["id"], timeout=240)
    assert batch.status == Job.Status.SUCCEEDED, batch.error
    assert batch.progress_percent == 100
    assert batch.progress_step == "3 of 3 ended (3 succeeded)"
    assert batch.result["total"] == 3 and batch.result["succeeded"] == 3
    assert {m["status"] for m in batch.result["members"]} == {"succeeded"}
    assert Report.objects.filter(job__parent=batch, status="succeeded").count() == 3
