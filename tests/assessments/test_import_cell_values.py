"""Cells the database could not store, or not give back, are refused by line."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments.models import Assessment, Organisation, Response, Student

HEADER = "student,item,correct,answered_at,position,student_name\n"


@pytest.fixture
def school(db):
    return Organisation.objects.create(
        slug="north-high", name="North High", timezone="Europe/Paris"
    )


def refused(tmp_path, line):
    path = tmp_path / "answers.csv"
    path.write_text(HEADER + line + "\n", encoding="utf-8")
    with pytest.raises(CommandError) as error:
        call_command(
            "import_responses", "north-high", "M", str(path), stdout=io.StringIO()
        )
    assert not Assessment.objects.exists()
    assert not Student.objects.exists()
    assert not Response.objects.exists()
    return str(error.value)


@pytest.mark.parametrize("position", ["²", "١٢", "３"])
def test_a_position_in_other_digits_is_refused(school, tmp_path, position):
    message = refused(tmp_path, f"S-1,Q1,1,2026-03-02T09:00:00Z,{position},")
    assert f"line 2: position must be a whole number from 1, not {position!r}" in (
        message
    )


def test_a_position_too_large_to_store_is_refused(school, tmp_path):
    message = refused(tmp_path, "S-1,Q1,1,2026-03-02T09:00:00Z,2147483648,")
    assert "line 2: position must be at most 2147483647, not '2147483648'" in message


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("S-\x001,Q1,1,2026-03-02T09:00:00Z,,", "student"),
        ("S-1,Q\x001,1,2026-03-02T09:00:00Z,,", "item"),
        ("S-1,Q1,1,2026-03-02T09:00:00Z,,Ada\x00", "student_name"),
    ],
)
def test_a_nul_character_is_refused(school, tmp_path, line, column):
    message = refused(tmp_path, line)
    assert f"line 2: {column} must not contain NUL characters" in message


@pytest.mark.parametrize(
    "answered_at",
    [
        "0001-01-01T00:00:00+05:00",
        "0001-01-01T00:00:00",  # Paris' local time then was ahead of UTC
        "9999-12-31T23:00:00-05:00",
    ],
)
def test_a_time_outside_what_can_be_read_back_is_refused(school, tmp_path, answered_at):
    message = refused(tmp_path, f"S-1,Q1,1,{answered_at},,")
    assert (
        f"line 2: answered_at must be between the years 1 and 9999 in UTC, "
        f"not {answered_at!r}"
    ) in message


def test_the_earliest_and_latest_storable_times_are_imported(school, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text(
        HEADER
        + "S-1,Q1,1,0001-01-01T00:00:00Z,,\n"
        + "S-1,Q2,1,9999-12-31T23:59:59Z,,\n",
        encoding="utf-8",
    )
    call_command("import_responses", "north-high", "M", str(path), stdout=io.StringIO())
    assert sorted(Response.objects.values_list("answered_at__year", flat=True)) == [
        1,
        9999,
    ]


def test_a_position_counted_past_the_largest_is_refused(school, tmp_path):
    message = refused(
        tmp_path,
        "S-1,Q1,1,2026-03-02T09:00:00Z,2147483647,\nS-1,Q2,1,2026-03-02T09:00:00Z,,",
    )
    assert message == (
        "1 answers clash with what is stored; nothing was imported:\n"
        "  student 'S-1' would have an answer at position 2147483648 in 'M', "
        "past the largest, 2147483647"
    )
