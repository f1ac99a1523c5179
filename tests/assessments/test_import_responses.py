"""Importing an organisation's answers from CSV: all of a file, or none of it."""

import io
from datetime import UTC, datetime

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from assessments.models import Assessment, Item, Organisation, Response, Student
from calibration.models import CalibrationRun
from calibration.services import run_calibration, submit_calibration

HEADER = "student,item,correct,answered_at,position,student_name\n"


@pytest.fixture
def school(db):
    return Organisation.objects.create(
        slug="north-high", name="North High", timezone="Europe/Berlin"
    )


def write(tmp_path, text, name="answers.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(*args):
    out = io.StringIO()
    call_command("import_responses", *args, stdout=out)
    return out.getvalue().strip()


def test_a_file_becomes_students_items_and_responses(school, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "S-1,Q1,1,2026-03-02T09:00:00+00:00,,Ada\n"
        + "S-1,Q2,0,2026-03-02 09:02:00,,Ada\n"  # no offset: the school's time
        + "S-2,Q2,1,2026-03-02T09:00:00Z,5,\n",
    )
    out = run("north-high", "MATH-1", path, "--name", "Maths, spring")
    assert out == (
        "Imported 3 responses to 'MATH-1' for 'north-high' "
        "(2 new students, 2 new items)."
    )
    assessment = Assessment.objects.get(organisation=school, code="MATH-1")
    assert assessment.name == "Maths, spring"
    assert Student.objects.get(external_id="S-1").name == "Ada"
    rows = {
        (r.student.external_id, r.item.code): r
        for r in Response.objects.select_related("student", "item")
    }
    assert set(rows) == {("S-1", "Q1"), ("S-1", "Q2"), ("S-2", "Q2")}
    assert (rows["S-1", "Q1"].correct, rows["S-1", "Q2"].correct) == (True, False)
    # Positions follow the file unless given; local times are Berlin's (UTC+1).
    assert [rows["S-1", "Q1"].position, rows["S-1", "Q2"].position] == [1, 2]
    assert rows["S-2", "Q2"].position == 5
    assert rows["S-1", "Q2"].answered_at == datetime(2026, 3, 2, 8, 2, tzinfo=UTC)

    # A second file adds to what is there, after the positions already used.
    more = write(tmp_path, HEADER + "S-1,Q3,1,2026-03-03T09:00:00+00:00,,\n", "b.csv")
    assert "(0 new students, 1 new items)" in run("north-high", "MATH-1", more)
    assert Response.objects.get(item__code="Q3").position == 3


def test_one_bad_row_and_nothing_is_imported(school, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "S-1,Q1,1,2026-03-02T09:00:00+00:00,,\n"
        + "S-2,Q1,yes,2026-03-02T09:00:00+00:00,,\n"
        + "S-3,,1,yesterday,0,\n"
        + "S-1,Q1,0,2026-03-02T09:05:00+00:00,,\n"
        + "S-4,Q1,1,2026-03-02T09:00:00+00:00,,,extra\n",
    )
    with pytest.raises(CommandError) as error:
        run("north-high", "MATH-1", path)
    assert str(error.value) == (
        "6 problems; nothing was imported:\n"
        "  line 3: correct must be 1 or 0, not 'yes'\n"
        "  line 4: item must be 1 to 64 characters\n"
        "  line 4: answered_at must be a date and time like "
        "2026-03-01T09:30:00+01:00, not 'yesterday'\n"
        "  line 4: position must be a whole number from 1, not '0'\n"
        "  line 5: student 'S-1' answers item 'Q1' again (first on line 2)\n"
        "  line 6: more cells than the header has columns"
    )
    assert not Assessment.objects.exists()
    assert not Student.objects.exists() and not Item.objects.exists()
    assert not Response.objects.exists()


def test_a_clash_with_stored_answers_rolls_everything_back(school, tmp_path):
    first = write(tmp_path, HEADER + "S-1,Q1,1,2026-03-02T09:00:00+00:00,,\n", "a.csv")
    run("north-high", "MATH-1", first)
    again = write(
        tmp_path,
        HEADER
        + "S-9,Q9,1,2026-03-02T09:00:00+00:00,,\n"
        + "S-1,Q1,0,2026-03-02T09:00:00+00:00,,\n",
        "b.csv",
    )
    with pytest.raises(CommandError) as error:
        run("north-high", "MATH-1", again)
    assert str(error.value) == (
        "1 answers clash with what is stored; nothing was imported:\n"
        "  student 'S-1' already answered item 'Q1' in 'MATH-1'"
    )
    assert not Student.objects.filter(external_id="S-9").exists()
    assert Response.objects.count() == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("student,item,correct\nS,Q,1\n", "The header row lacks answered_at; "),
        (HEADER, "The file has no rows below its header."),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(school, tmp_path, text, message):
    with pytest.raises(CommandError, match=f"^{message}"):
        run("north-high", "MATH-1", write(tmp_path, text))


def test_unknown_organisation_missing_file_and_not_utf8(school, tmp_path):
    with pytest.raises(CommandError, match="No organisation with slug 'nowhere'"):
        run("nowhere", "MATH-1", write(tmp_path, HEADER))
    with pytest.raises(CommandError, match="No such file: "):
        run("north-high", "MATH-1", str(tmp_path / "absent.csv"))
    latin1 = tmp_path / "latin1.csv"
    row = "Jos\xe9,Q1,1,2026-03-02,,\n".encode("latin-1")
    latin1.write_bytes(HEADER.encode() + row)
    with pytest.raises(CommandError, match="is not UTF-8 text"):
        run("north-high", "MATH-1", str(latin1))


def test_imported_answers_calibrate(school, tmp_path):
    rng = np.random.default_rng(3)
    a = np.linspace(0.7, 1.8, 10)
    b = np.linspace(-1.2, 1.2, 10)
    theta = rng.normal(size=800)
    answers = rng.random((800, 10)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))
    lines = [
        f"S{i:04d},Q{j},{int(answers[i, j])},2026-03-02T09:{j:02d}:00+00:00,,"
        for i in range(800)
        for j in range(10)
    ]
    run("north-high", "MATH-1", write(tmp_path, HEADER + "\n".join(lines) + "\n"))
    # The planner was told: a calibration's read planned for near-empty
    # tables took minutes on a large import.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE relname = %s",
            [Response._meta.db_table],
        )
        assert cursor.fetchone()[0] == 8000
    with transaction.atomic():
        job = submit_calibration(school, method="mml")
    result = run_calibration(job)
    assert (result["n_persons"], result["n_items"], result["n_responses"]) == (
        800,
        10,
        8000,
    )
    run_row = CalibrationRun.objects.get(pk=result["calibration_run"])
    assert run_row.status == CalibrationRun.Status.SUCCEEDED and run_row.converged
