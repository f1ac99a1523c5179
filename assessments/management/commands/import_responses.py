"""Load an organisation's answers (students, items, responses) from a CSV file."""

import csv
import logging
import re
import zoneinfo
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, IntegrityError, transaction

from assessments.models import Assessment, Item, Organisation, Response, Student
from dreamseed.sql import analyze

logger = logging.getLogger(__name__)

REQUIRED = ("student", "item", "correct", "answered_at")
OPTIONAL = ("position", "student_name")
CORRECT = {"1": True, "0": False, "true": True, "false": False}
LONGEST_CODE = 64
# The largest position a PositiveIntegerField holds on every database.
LARGEST_POSITION = 2**31 - 1
# Line breaks as the csv module counts lines (inside quotes they stay as is).
LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Problems listed before the command gives up listing them.
SHOWN_PROBLEMS = 20
ROWS_PER_INSERT = 5000


class Command(BaseCommand):
    help = (
        "Import answers to ASSESSMENT (its code; created if new) for the "
        "organisation ORG from a CSV file with the columns student, item, "
        "correct (1/0), answered_at (ISO 8601) and optionally position and "
        "student_name. Students and items are created as needed. The whole "
        "file is checked first: one bad row and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("organisation", help="Organisation slug.")
        parser.add_argument("assessment", help="Assessment code.")
        parser.add_argument("file", help="CSV file, UTF-8, with a header row.")
        parser.add_argument(
            "--name", help="The assessment's name, if it is new (default: its code)."
        )

    def handle(self, *args, **options):
        try:
            organisation = Organisation.objects.get(slug=options["organisation"])
        except Organisation.DoesNotExist:
            raise CommandError(
                f"No organisation with slug {options['organisation']!r}."
            )
        code = options["assessment"].strip()
        if not 1 <= len(code) <= LONGEST_CODE:
            raise CommandError(
                f"The assessment code must be 1 to {LONGEST_CODE} characters."
            )
        rows = self.read(options["file"], zoneinfo.ZoneInfo(organisation.timezone))
        try:
            with transaction.atomic():
                counts = store(organisation, code, options["name"] or code, rows)
        except IntegrityError:
            # What store() read was changed before it wrote: the unique
            # constraints kept both from being kept, and everything rolled back.
            raise CommandError(
                "Another writer added some of these students, items or answers "
                "while the file was being imported; nothing was imported. Run "
                "the command again to import the file as it now stands."
            )
        refresh_statistics()
        self.stdout.write(
            f"Imported {counts['responses']} responses to {code!r} for "
            f"{organisation.slug!r} ({counts['students']} new students, "
            f"{counts['items']} new items)."
        )

    def read(self, path, zone):
        """Return the file's rows checked and converted, or raise CommandError."""
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                return check_rows(csv.DictReader(handle), zone)
        except FileNotFoundError:
            raise CommandError(f"No such file: {path}")
        except OSError as exc:  # a directory, no permission, ...
            raise CommandError(f"Cannot read {path}: {exc.strerror}.")
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text ({exc.reason}).")
        except csv.Error as exc:
            raise CommandError(f"{path} is not valid CSV: {exc}")


def refresh_statistics():
    """Let PostgreSQL's planner know how many rows the import added.

    Planned with the statistics of near-empty tables, the calibration's read
    of a million imported answers took 15 minutes instead of under a second
    (a nested loop over every student). Autovacuum would catch up later, if
    it is on; calibrations are often started right after an import.
    """
    try:
        analyze([m._meta.db_table for m in (Student, Item, Assessment, Response)])
    except DatabaseError as exc:
        # The import itself is done; stale statistics only slow reads down.
        logger.warning("could not refresh the tables' statistics: %s", exc)


def check_rows(reader, zone):
    """Check every row; return them converted or raise listing the problems."""
    header = reader.fieldnames or []
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CommandError(
            f"The header row lacks {', '.join(missing)}; "
            f"it needs {', '.join(REQUIRED)} (and may have {', '.join(OPTIONAL)})."
        )
    repeated = [
        name
        for position, name in enumerate(header)
        if name in (*REQUIRED, *OPTIONAL) and name in header[:position]
    ]
    if repeated:
        # The reader would keep the last cell and drop the others unseen.
        names = ", ".join(dict.fromkeys(repeated))
        raise CommandError(f"The header row names {names} more than once.")
    rows, problems, seen = [], [], {}
    for raw in reader:
        line = first_line(reader, raw)
        row, row_problems = check_row(raw, zone)
        if row is not None:
            first = seen.setdefault((row["student"], row["item"]), line)
            if first != line:
                row_problems.append(
                    f"student {row['student']!r} answers item {row['item']!r} "
                    f"again (first on line {first})"
                )
        problems += [f"line {line}: {problem}" for problem in row_problems]
        if not row_problems:
            rows.append(row)
    if problems:
        refuse(f"{len(problems)} problems", problems)
    if not rows:
        raise CommandError("The file has no rows below its header.")
    return rows


def first_line(reader, raw):
    """The line of the file on which the row ``raw`` just read begins.

    Blank lines are skipped by the reader and a quoted cell may span lines,
    so the row's place in the file is counted back from where it ends.
    """
    cells = [value for value in raw.values() if isinstance(value, str)]
    cells += raw.get(None) or []
    return reader.line_num - sum(len(LINE_BREAK.findall(cell)) for cell in cells)


def refuse(summary, problems):
    """Raise a CommandError listing the first problems."""
    shown = "\n  ".join(problems[:SHOWN_PROBLEMS])
    more = len(problems) - SHOWN_PROBLEMS
    tail = f"\n  ... and {more} more" if more > 0 else ""
    raise CommandError(f"{summary}; nothing was imported:\n  {shown}{tail}")


def check_row(raw, zone):
    """Return ``(row, problems)`` for one CSV row."""
    if None in raw:
        return None, ["more cells than the header has columns"]
    problems = []
    values = {name: (raw.get(name) or "").strip() for name in (*REQUIRED, *OPTIONAL)}
    for name in ("student", "item"):
        if not 1 <= len(values[name]) <= LONGEST_CODE:
            problems.append(f"{name} must be 1 to {LONGEST_CODE} characters")
    for name in ("student", "item", "student_name"):
        # PostgreSQL refuses a NUL in text.
        if "\x00" in values[name]:
            problems.append(f"{name} must not contain NUL characters")
    correct = CORRECT.get(values["correct"].lower())
    if correct is None:
        problems.append(f"correct must be 1 or 0, not {values['correct']!r}")
    try:
        answered_at = datetime.fromisoformat(values["answered_at"])
    except ValueError:
        answered_at = None
        problems.append(
            f"answered_at must be a date and time like 2026-03-01T09:30:00+01:00, "
            f"not {values['answered_at']!r}"
        )
    else:
        if answered_at.tzinfo is None:
            # Local time of the organisation, as a school's export would be.
            answered_at = answered_at.replace(tzinfo=zone)
        try:
            # Stored in UTC: a time that is not a datetime there could not be
            # read back (nor, on SQLite, written).
            answered_at.astimezone(UTC)
        except OverflowError:
            answered_at = None
            problems.append(
                f"answered_at must be between the years 1 and 9999 in UTC, "
                f"not {values['answered_at']!r}"
            )
    position = None
    if values["position"]:
        text = values["position"]
        # isdigit() alone takes other scripts' digits and superscripts.
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            problems.append(f"position must be a whole number from 1, not {text!r}")
        elif int(text) > LARGEST_POSITION:
            problems.append(
                f"position must be at most {LARGEST_POSITION}, not {text!r}"
            )
        else:
            position = int(text)
    if len(values["student_name"]) > 200:
        problems.append("student_name must be at most 200 characters")
    if problems:
        return None, problems
    return {
        "student": values["student"],
        "item": values["item"],
        "correct": correct,
        "answered_at": answered_at,
        "position": position,
        "student_name": values["student_name"],
    }, []


def store(organisation, code, name, rows):
    """Write the checked rows; raise CommandError (rolling back) on a clash."""
    assessment, _ = Assessment.objects.get_or_create(
        organisation=organisation, code=code, defaults={"name": name[:200]}
    )
    students = _get_or_create(
        Student,
        organisation,
        "external_id",
        {row["student"]: row["student_name"] for row in rows},
        lambda key, label: Student(
            organisation=organisation, external_id=key, name=label
        ),
    )
    items = _get_or_create(
        Item,
        organisation,
        "code",
        {row["item"]: "" for row in rows},
        lambda key, label: Item(organisation=organisation, code=key),
    )
    taken = {}  # student pk -> positions already used in this assessment
    answered = set()  # (student pk, item pk) already answered
    for student_id, item_id, position in Response.objects.filter(
        assessment=assessment
    ).values_list("student_id", "item_id", "position"):
        taken.setdefault(student_id, set()).add(position)
        answered.add((student_id, item_id))
    problems, responses = [], []
    for row in rows:
        student = students["objects"][row["student"]]
        item = items["objects"][row["item"]]
        if (student.pk, item.pk) in answered:
            problems.append(
                f"student {row['student']!r} already answered item {row['item']!r} "
                f"in {code!r}"
            )
            continue
        used = taken.setdefault(student.pk, set())
        position = row["position"] or max(used, default=0) + 1
        if position > LARGEST_POSITION:
            problems.append(
                f"student {row['student']!r} would have an answer at position "
                f"{position} in {code!r}, past the largest, {LARGEST_POSITION}"
            )
            continue
        if position in used:
            problems.append(
                f"student {row['student']!r} already has an answer at position "
                f"{position} in {code!r}"
            )
            continue
        used.add(position)
        responses.append(
            Response(
                organisation=organisation,
                student=student,
                assessment=assessment,
                item=item,
                correct=row["correct"],
                answered_at=row["answered_at"],
                position=position,
            )
        )
    if problems:
        refuse(f"{len(problems)} answers clash with what is stored", problems)
    Response.objects.bulk_create(responses, batch_size=ROWS_PER_INSERT)
    return {
        "responses": len(responses),
        "students": students["created"],
        "items": items["created"],
    }


def _get_or_create(model, organisation, key_field, labels, build):
    """The organisation's rows of ``model`` for each key, creating the missing."""
    # All of them rather than an IN list, which SQLite caps in length.
    existing = {
        getattr(obj, key_field): obj
        for obj in model.objects.filter(organisation=organisation).only("pk", key_field)
    }
    new = [build(key, label) for key, label in labels.items() if key not in existing]
    model.objects.bulk_create(new, batch_size=ROWS_PER_INSERT)
    existing.update({getattr(obj, key_field): obj for obj in new})
    return {"objects": existing, "created": len(new)}
