"""A header naming a column twice is refused: which cell is meant is unclear."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments.models import Organisation, Response


@pytest.fixture
def school(db):
    return Organisation.objects.create(slug="north-high", name="North High")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("student,item,correct,answered_at,student", "student"),
        (
            "correct,student,item,correct,answered_at,position,position",
            "correct, position",
        ),
    ],
)
def test_a_column_named_twice_is_refused(school, tmp_path, header, message):
    path = tmp_path / "answers.csv"
    cells = ",".join(["1"] * len(header.split(",")))
    path.write_text(f"{header}\n{cells}\n", encoding="utf-8")
    with pytest.raises(CommandError) as error:
        call_command(
            "import_responses", "north-high", "M", str(path), stdout=io.StringIO()
        )
    assert str(error.value) == f"The header row names {message} more than once."
    assert not Response.objects.exists()
