"""Exports: content, spreadsheet safety, API, scoping and expiry."""

import csv
import datetime
import io
from datetime import timedelta

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from assessments.models import Assessment, Item, Response, Student
from calibration.models import AbilityEstimate, CalibrationRun, ItemParameter
from exports import services
from exports.models import Export
from exports.writers import neutralise
from jobs.models import Job
from jobs.tasks import cleanup
from tests.conftest import wait_for_job

UTC = datetime.UTC
NASTY = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "Müller", "東京"]


def at(day, hour=12):
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=UTC)


@pytest.fixture
def data(organisation, other_organisation):
    day = datetime.date(2026, 3, 10)
    assessment = Assessment.objects.create(
        organisation=organisation, code="=A1", name="Maths"
    )
    items = [
        Item.objects.create(organisation=organisation, code=f"I{j}") for j in range(2)
    ]
    students = [
        Student.objects.create(organisation=organisation, external_id=f"S{i}", name=n)
        for i, n in enumerate(NASTY)
    ]
    for i, student in enumerate(students):
        for j, item in enumerate(items):
            Response.objects.create(
                organisation=organisation,
                student=student,
                assessment=assessment,
                item=item,
                correct=(i + j) % 2 == 0,
                answered_at=at(day + timedelta(days=j)),
                position=j + 1,
            )
    # Another organisation's data must never appear.
    other_student = Student.objects.create(
        organisation=other_organisation, external_id="X1", name="Intruder"
    )
    other_item = Item.objects.create(organisation=other_organisation, code="OX")
    other_assessment = Assessment.objects.create(
        organisation=other_organisation, code="OA", name="Other"
    )
    Response.objects.create(
        organisation=other_organisation,
        student=other_student,
        assessment=other_assessment,
        item=other_item,
        correct=True,
        answered_at=at(day),
        position=1,
    )
    run = CalibrationRun.objects.create(
        organisation=organisation,
        method="jmle",
        status=CalibrationRun.Status.SUCCEEDED,
        finished_at=at(day),
    )
    older = CalibrationRun.objects.create(
        organisation=organisation,
        method="jmle",
        status=CalibrationRun.Status.SUCCEEDED,
        finished_at=at(day - timedelta(days=5)),
    )
    for i, student in enumerate(students):
        AbilityEstimate.objects.create(
            run=run, student=student, theta=-1.25 + i, se=0.3
        )
        AbilityEstimate.objects.create(run=older, student=student, theta=9.0)
    for j, item in enumerate(items):
        ItemParameter.objects.create(
            run=run, item=item, discrimination=1.1, difficulty=-0.5 + j
        )
    return {"day": day, "students": students, "run": run, "older": older}


def make_export(organisation, dataset, file_format, **dates):
    with transaction.atomic():
        job = services.submit_export(
            organisation=organisation,
            dataset=dataset,
            file_format=file_format,
            **dates,
        )
    return Export.objects.get(job=job)


def read_csv(export):
    with default_storage.open(export.file.name, "rb") as handle:
        raw = handle.read()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def read_xlsx(export):
    with default_storage.open(export.file.name, "rb") as handle:
        book = openpyxl.load_workbook(io.BytesIO(handle.read()), read_only=True)
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]


def test_neutralise_prefixes_formula_text_and_keeps_numbers():
    assert [neutralise(v) for v in NASTY[:6]] == ["'" + v for v in NASTY[:6]]
    assert neutralise("Müller") == "Müller"
    assert neutralise(-1.25) == -1.25
    assert neutralise(True) == 1
    assert neutralise(None) == ""


def test_csv_of_responses_is_scoped_safe_and_unicode(data, organisation):
    export = make_export(organisation, "responses", "csv")
    result = services.write_export(export)
    rows = read_csv(export)

    assert rows[0] == [
        "student",
        "student_name",
        "assessment",
        "item",
        "position",
        "correct",
        "answered_at",
    ]
    assert result["rows"] == len(rows) - 1 == 16
    names = {row[1] for row in rows[1:]}
    assert "Müller" in names and "東京" in names
    assert "'=1+2" in names and "'-2+3" in names and "'\tx" in names
    assert "Intruder" not in names
    assert {row[2] for row in rows[1:]} == {"'=A1"}
    first = next(row for row in rows[1:] if row[0] == "S0" and row[3] == "I0")
    assert first[4:] == ["1", "1", "2026-03-10T12:00:00Z"]


def test_date_range_includes_both_ends(data, organisation):
    day = data["day"]
    export = make_export(organisation, "responses", "csv", date_from=day, date_to=day)
    services.write_export(export)
    rows = read_csv(export)
    assert len(rows) - 1 == 8
    assert {row[3] for row in rows[1:]} == {"I0"}


def test_xlsx_keeps_numbers_and_never_writes_formulas(data, organisation):
    export = make_export(organisation, "abilities", "xlsx")
    services.write_export(export)
    rows = read_xlsx(export)

    assert rows[0][:3] == ["student", "student_name", "ability"]
    by_student = {row[0]: row for row in rows[1:]}
    assert by_student["S0"][2] == -1.25, "a negative number stays a number"
    assert isinstance(by_student["S0"][2], float)
    assert by_student["S0"][1] == "'=1+2"
    assert by_student["S6"][1] == "Müller" and by_student["S7"][1] == "東京"
    assert len(rows) - 1 == 8, "only the latest run's abilities"
    assert all(row[4] == str(data["run"].pk) for row in rows[1:])


def test_latest_run_respects_the_date_range(data, organisation):
    day = data["day"]
    export = make_export(
        organisation,
        "item_parameters",
        "csv",
        date_to=day - timedelta(days=1),
    )
    services.write_export(export)
    rows = read_csv(export)
    assert len(rows) == 1, "the older run has no item parameters"

    export = make_export(organisation, "item_parameters", "csv")
    services.write_export(export)
    rows = read_csv(export)
    assert [row[0] for row in rows[1:]] == ["I0", "I1"]
    assert float(rows[1][2]) == -0.5


def test_xlsx_header_of_reports_export(data, organisation):
    export = make_export(organisation, "reports", "xlsx")
    result = services.write_export(export)
    assert result["rows"] == 0
    assert read_xlsx(export)[0][0] == "report"


def test_submit_validates_with_field_errors(api):
    response = api.post(
        "/api/v1/exports/",
        {"dataset": "secrets", "format": "pdf", "date_from": "2026-13-01"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.data) >= {"dataset", "format", "date_from"}

    response = api.post(
        "/api/v1/exports/",
        {
            "dataset": "responses",
            "format": "csv",
            "date_from": "2026-03-02",
            "date_to": "2026-03-01",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "date_to" in response.data


def test_download_is_scoped_and_expires(data, organisation, api, other_api):
    export = make_export(organisation, "responses", "csv")
    url = f"/api/v1/exports/{export.pk}/download/"
    assert api.get(url).status_code == 409, "not written yet"

    services.write_export(export)
    response = api.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    assert "attachment" in response["Content-Disposition"]
    assert other_api.get(url).status_code == 404
    from rest_framework.test import APIClient

    assert APIClient().get(url).status_code in (401, 403)

    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now())
    assert api.get(url).status_code == 410


def test_cleanup_deletes_expired_rows_and_files(data, organisation):
    fresh = make_export(organisation, "responses", "csv")
    stale = make_export(organisation, "responses", "xlsx")
    services.write_export(fresh)
    services.write_export(stale)
    stale_name = stale.file.name
    Export.objects.filter(pk=stale.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    counts = cleanup()

    assert counts["exports"] == 1
    assert not Export.objects.filter(pk=stale.pk).exists()
    assert not default_storage.exists(stale_name)
    assert default_storage.exists(Export.objects.get(pk=fresh.pk).file.name)


@pytest.mark.integration
def test_export_job_end_to_end_through_the_api(data, api, worker):
    response = api.post(
        "/api/v1/exports/",
        {"dataset": "responses", "format": "xlsx"},
        format="json",
    )
    assert response.status_code == 202, response.data
    job = wait_for_job(response.data["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["rows"] == 16

    detail = api.get(f"/api/v1/jobs/{job.pk}/").data
    download = detail["links"]["download"]
    response = api.get(download)
    assert response.status_code == 200
    book = openpyxl.load_workbook(
        io.BytesIO(b"".join(response.streaming_content)), read_only=True
    )
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 17
    assert "dreamseed.exports.export" in worker.output()


def test_xlsx_continues_on_a_new_sheet_past_the_row_limit(
    data, organisation, monkeypatch
):
    from exports import writers

    # Excel's limit is 1,048,575 data rows; a small one shows the same logic.
    monkeypatch.setattr(writers, "XLSX_MAX_DATA_ROWS", 5)
    export = make_export(organisation, "responses", "xlsx")
    assert services.write_export(export)["rows"] == 16
    with default_storage.open(export.file.name, "rb") as handle:
        book = openpyxl.load_workbook(io.BytesIO(handle.read()), read_only=True)
    sheets = [list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets]
    assert [len(rows) - 1 for rows in sheets] == [5, 5, 5, 1]
    assert all(rows[0][0] == "student" for rows in sheets), "each sheet has a header"


def test_the_widest_date_range_exports_everything(data, organisation):
    export = make_export(
        organisation,
        "responses",
        "csv",
        date_from=datetime.date.min,
        date_to=datetime.date.max,
    )
    result = services.write_export(export)
    assert result["rows"] == 16
    assert services.latest_run(export) == data["run"]
