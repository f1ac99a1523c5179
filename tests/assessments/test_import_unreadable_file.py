"""A path that names no readable file is a CommandError, not a traceback."""

import io
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments.models import Organisation


@pytest.fixture
def school(db):
    return Organisation.objects.create(slug="north-high", name="North High")


def test_a_directory_is_refused(school, tmp_path):
    with pytest.raises(CommandError) as error:
        call_command(
            "import_responses", "north-high", "M", str(tmp_path), stdout=io.StringIO()
        )
    assert str(error.value) == f"Cannot read {tmp_path}: Is a directory."


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission_is_refused(school, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("student\n", encoding="utf-8")
    path.chmod(0)
    with pytest.raises(CommandError) as error:
        call_command(
            "import_responses", "north-high", "M", str(path), stdout=io.StringIO()
        )
    assert str(error.value) == f"Cannot read {path}: Permission denied."
