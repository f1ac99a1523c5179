"""Two writers adding the same students at once: the later import is refused."""

import io
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from assessments.models import Organisation, Response, Student

HEADER = "student,item,correct,answered_at,position,student_name\n"


def wait_for_a_lock_waiter(timeout=10):
    """Block until some session of this database waits for a row lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the import never waited for the other writer")


def test_a_student_added_meanwhile_refuses_the_import(transactional_db, tmp_path):
    school = Organisation.objects.create(slug="north-high", name="North High")
    path = tmp_path / "answers.csv"
    path.write_text(
        HEADER
        + "S-1,Q1,1,2026-03-02T09:00:00Z,,\n"
        + "S-2,Q1,1,2026-03-02T09:00:00Z,,\n",
        encoding="utf-8",
    )
    added, failures = threading.Event(), []

    def other_writer():
        try:
            with transaction.atomic():
                Student.objects.create(organisation=school, external_id="S-1")
                added.set()
                wait_for_a_lock_waiter()
        except Exception as exc:  # reported by the test's thread below
            failures.append(exc)
            added.set()
        finally:
            connection.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert added.wait(10)
    try:
        with pytest.raises(CommandError) as error:
            call_command(
                "import_responses", "north-high", "M", str(path), stdout=io.StringIO()
            )
    finally:
        writer.join(20)
    assert not failures
    assert str(error.value) == (
        "Another writer added some of these students, items or answers while "
        "the file was being imported; nothing was imported. Run the command "
        "again to import the file as it now stands."
    )
    assert list(Student.objects.values_list("external_id", flat=True)) == ["S-1"]
    assert not Response.objects.exists()
