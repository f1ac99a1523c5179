"""A problem is reported at the line of the file it is on."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments.models import Organisation, Response

HEADER = "student,item,correct,answered_at,position,student_name"


@pytest.fixture
def school(db):
    return Organisation.objects.create(slug="north-high", name="North High")


def problems(tmp_path, lines, newline="\n"):
    path = tmp_path / "answers.csv"
    path.write_bytes(newline.join([HEADER, *lines, ""]).encode())
    with pytest.raises(CommandError) as error:
        call_command(
            "import_responses", "north-high", "M", str(path), stdout=io.StringIO()
        )
    assert not Response.objects.exists()
    return str(error.value).splitlines()[1:]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_blank_lines_count(school, tmp_path, newline):
    lines = [
        "",
        "S-1,Q1,1,2026-03-02T09:00:00Z,,",
        "",
        "",
        "S-1,Q2,maybe,2026-03-02T09:00:00Z,,",
        "S-1,Q1,0,2026-03-02T09:00:00Z,,",
    ]
    assert problems(tmp_path, lines, newline) == [
        "  line 6: correct must be 1 or 0, not 'maybe'",
        "  line 7: student 'S-1' answers item 'Q1' again (first on line 3)",
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_name_over_several_lines_counts_them(school, tmp_path, newline):
    lines = [
        'S-1,Q1,1,2026-03-02T09:00:00Z,,"Ada',
        "Lovelace",
        'King"',
        "S-1,Q2,maybe,2026-03-02T09:00:00Z,,",
        'S-2,Q1,nope,2026-03-02T09:00:00Z,,"Two',
        'lines"',
        "S-3,Q1,no,2026-03-02T09:00:00Z,,",
    ]
    assert problems(tmp_path, lines, newline) == [
        "  line 5: correct must be 1 or 0, not 'maybe'",
        "  line 6: correct must be 1 or 0, not 'nope'",
        "  line 8: correct must be 1 or 0, not 'no'",
    ]
