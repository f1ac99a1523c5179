"""Benchmark of exports: 1,000,000 responses to CSV and to XLSX.

Run from the project root against a database of your own, e.g.::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dreamseed_ops \\
        .venv/bin/python bench/bench_exports.py

The responses (10,000 students x 100 items) are generated once inside
PostgreSQL with generate_series. Each case then runs in a subprocess of its
own, so its peak resident memory (ru_maxrss) is that case's alone.
Targets: CSV in <= 10 s and <= 150 MB; XLSX in <= 200 MB.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORG_SLUG = "bench-exports"
N_STUDENTS = 10_000
N_ITEMS = 100
TARGETS = {"csv": (10.0, 150), "xlsx": (None, 200)}


def setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dreamseed.settings")
    os.environ.setdefault("DREAMSEED_ALLOW_DEFAULT_SECRET", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def generate():
    """Create the benchmark organisation and its 1,000,000 responses, once."""
    from django.db import connection, transaction

    from assessments.models import Assessment, Organisation, Response

    org, _ = Organisation.objects.get_or_create(
        slug=ORG_SLUG, defaults={"name": "Benchmark"}
    )
    wanted = N_STUDENTS * N_ITEMS
    if Response.objects.filter(organisation=org).count() == wanted:
        return org
    assessment, _ = Assessment.objects.get_or_create(
        organisation=org, code="BENCH", defaults={"name": "Benchmark"}
    )
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM assessments_response WHERE organisation_id = %s", [org.pk]
        )
        cursor.execute(
            "DELETE FROM assessments_student WHERE organisation_id = %s", [org.pk]
        )
        cursor.execute(
            "DELETE FROM assessments_item WHERE organisation_id = %s", [org.pk]
        )
        # Names with non-ASCII letters and one in ten that looks like a formula,
        # so the neutralisation does real work.
        cursor.execute(
            """
            INSERT INTO assessments_student
                (id, organisation_id, external_id, name, email, created_at)
            SELECT gen_random_uuid(), %s, 'S' || lpad(g::text, 6, '0'),
                   CASE WHEN g %% 10 = 0 THEN '=Müller ' || g ELSE '東京 ' || g END,
                   '', now()
            FROM generate_series(1, %s) AS g
            """,
            [org.pk, N_STUDENTS],
        )
        cursor.execute(
            """
            INSERT INTO assessments_item (id, organisation_id, code, text, created_at)
            SELECT gen_random_uuid(), %s, 'I' || lpad(g::text, 3, '0'), '', now()
            FROM generate_series(1, %s) AS g
            """,
            [org.pk, N_ITEMS],
        )
        cursor.execute(
            """
            INSERT INTO assessments_response
                (organisation_id, student_id, assessment_id, item_id, correct,
                 answered_at, position)
            SELECT %s, s.id, %s, i.id, random() < 0.6,
                   timestamptz '2026-01-01 00:00:00+00'
                       + (random() * 90) * interval '1 day',
                   i.rn
            FROM assessments_student s
            CROSS JOIN (
                SELECT id, row_number() OVER (ORDER BY code) AS rn
                FROM assessments_item WHERE organisation_id = %s
            ) i
            WHERE s.organisation_id = %s
            """,
            [org.pk, assessment.pk, org.pk, org.pk],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE assessments_response")
    print(f"generated {wanted:,} responses in {time.monotonic() - started:.1f} s")
    return org


def run_case(file_format):
    """Export the responses once; print a JSON line with the figures."""
    from datetime import timedelta

    from django.utils import timezone

    from assessments.models import Organisation
    from exports.models import Export
    from exports.services import write_export

    org = Organisation.objects.get(slug=ORG_SLUG)
    export = Export.objects.create(
        organisation=org,
        dataset=Export.Dataset.RESPONSES,
        file_format=file_format,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    started = time.monotonic()
    result = write_export(export)
    seconds = time.monotonic() - started
    export.file.delete(save=False)
    export.delete()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "format": file_format,
                "rows": result["rows"],
                "bytes": result["size"],
                "seconds": seconds,
                "peak_rss_mb": peak_mb,
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["csv", "xlsx"])
    args = parser.parse_args()
    os.environ.setdefault(
        "DREAMSEED_VAR_DIR", tempfile.mkdtemp(prefix="dreamseed-bench-")
    )
    setup_django()
    if args.case:
        run_case(args.case)
        return

    generate()
    failed = False
    for file_format in ("csv", "xlsx"):
        output = subprocess.run(
            [sys.executable, __file__, "--case", file_format],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ,
        ).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        max_seconds, max_mb = TARGETS[file_format]
        ok = figures["peak_rss_mb"] <= max_mb and (
            max_seconds is None or figures["seconds"] <= max_seconds
        )
        failed |= not ok
        print(
            f"{file_format:5} {figures['rows']:>9,} rows  {figures['seconds']:6.1f} s  "
            f"{figures['rows'] / figures['seconds']:>9,.0f} rows/s  "
            f"peak RSS {figures['peak_rss_mb']:6.1f} MB  "
            f"{figures['bytes'] / 1e6:6.1f} MB file  "
            f"target {max_seconds or '-'} s / {max_mb} MB: {'ok' if ok else 'MISSED'}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
