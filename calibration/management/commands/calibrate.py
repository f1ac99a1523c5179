"""Calibrate an organisation's item bank, or a CSV file without any database."""

import csv
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessments.models import Organisation
from dreamseed.waiting import quiet_logging, wait_for_job
from jobs.models import Job

from ... import services
from ...models import CalibrationRun


class Command(BaseCommand):
    help = (
        "Calibrate ORG's item bank through a worker, or with --input, calibrate a "
        "CSV of responses (header of item names, one row per person, cells 0, 1 "
        "or empty) and write one row per item: item,a,b,se_a,se_b."
    )

    def add_arguments(self, parser):
        parser.add_argument("organisation", nargs="?", help="Organisation slug.")
        parser.add_argument(
            "--method",
            choices=services.METHODS,
            default=None,
            help="jmle (joint ML) or mml (marginal ML, better for short or sparse "
            "tests); default: the CALIBRATION_DEFAULT_METHOD setting.",
        )
        parser.add_argument(
            "--max-iter",
            type=int,
            default=None,
            help="Most iterations (default: CALIBRATION_MAX_ITERATIONS).",
        )
        parser.add_argument(
            "--tol",
            type=float,
            default=None,
            help="Convergence tolerance on parameter change "
            "(default: CALIBRATION_TOLERANCE).",
        )
        parser.add_argument(
            "--priority",
            type=int,
            default=None,
            choices=range(10),
            help="0-9, higher is more urgent (default 5).",
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="Submit and print the job id."
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=3600,
            help="Seconds to wait for the job (default 3600).",
        )
        parser.add_argument(
            "--input", type=Path, help="Responses CSV: calibrate it without a database."
        )
        parser.add_argument(
            "--output", type=Path, help="With --input: item parameters CSV to write."
        )
        parser.add_argument(
            "--abilities",
            type=Path,
            help="With --input: also write person,theta,se to this CSV.",
        )

    def handle(self, *args, **options):
        if options["max_iter"] is not None and options["max_iter"] < 1:
            raise CommandError("--max-iter must be at least 1.")
        if options["tol"] is not None and not 0 < options["tol"] < 1:
            raise CommandError("--tol must be between 0 and 1.")
        if options["input"] is not None:
            if options["organisation"]:
                raise CommandError("Give either ORG or --input, not both.")
            return self.standalone(options)
        if not options["organisation"]:
            raise CommandError("Name an organisation (its slug) or give --input FILE.")
        with quiet_logging(options["verbosity"]):
            return self.submit(options)

    def submit(self, options):
        try:
            organisation = Organisation.objects.get(slug=options["organisation"])
        except Organisation.DoesNotExist:
            raise CommandError(
                f"No organisation with slug {options['organisation']!r}."
            )
        with transaction.atomic():
            job = services.submit_calibration(
                organisation,
                priority=options["priority"],
                method=options["method"],
                max_iter=options["max_iter"],
                tol=options["tol"],
            )
        if options["no_wait"]:
            self.stdout.write(str(job.pk))
            return
        job = wait_for_job(job.pk, timeout=options["timeout"], label="calibration")
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"Calibration {job.status}: {job.error}")
        run = CalibrationRun.objects.get(pk=job.result["calibration_run"])
        self.stdout.write(
            f"Run {run.pk}: {run.method}, {run.n_persons} persons, "
            f"{run.n_items} items, "
            f"converged={run.converged} in {run.n_iterations} iterations"
        )
        for line in services.parameter_table(run):
            self.stdout.write(line)

    def standalone(self, options):
        from calibration.irt import IRTInputError, JointMLE, MarginalMLE
        from calibration.irt.exceptions import ConvergenceWarning

        if options["output"] is None:
            raise CommandError("--input needs --output FILE for the item parameters.")
        for name in ("output", "abilities"):
            target = options[name]
            if target is not None and target.resolve() == options["input"].resolve():
                raise CommandError(f"--{name} would overwrite the input file.")
        names, responses = read_responses_csv(options["input"])
        method = options["method"] or services.calibration_options()["method"]
        opts = services.calibration_options(
            method=method, max_iter=options["max_iter"], tol=options["tol"]
        )
        estimator_class = MarginalMLE if method == "mml" else JointMLE
        estimator = estimator_class(max_iter=opts["max_iter"], tol=opts["tol"])

        interactive = sys.stderr.isatty()

        def progress(iteration, total, info):
            if interactive:
                done = int(20 * iteration / max(total, 1))
                sys.stderr.write(f"\r[{'#' * done:<20}] iteration {iteration}")
                sys.stderr.flush()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                estimator.fit(responses, progress=progress)
            except IRTInputError as exc:
                raise CommandError(f"{options['input']}: {exc}")
        if interactive:
            sys.stderr.write("\n")
        result = estimator.result_
        for warning in caught:
            # A fit that did not converge is refused below, in the product's
            # own words (and method names); other warnings are passed on.
            if isinstance(warning.message, ConvergenceWarning) and not (
                result.converged
            ):
                continue
            self.stderr.write(f"warning: {warning.message}")
        for j, flag in enumerate(result.item_diagnostics["flag"]):
            if flag:
                self.stderr.write(f"warning: item {names[j]!r} flagged: {flag}")
        if not result.converged:
            # As in the database, a fit that did not converge is never used:
            # here that means no output file a script could pick up.
            raise CommandError(
                services.not_converged_message(
                    {"method": method},
                    result,
                    kept=f"nothing was written to {options['output']}.",
                )
            )

        write_csv_atomically(
            options["output"],
            ["item", "a", "b", "se_a", "se_b"],
            (
                [
                    name,
                    _cell(result.discrimination[j]),
                    _cell(result.difficulty[j]),
                    _cell(result.se_discrimination[j]),
                    _cell(result.se_difficulty[j]),
                ]
                for j, name in enumerate(names)
            ),
        )
        if options["abilities"] is not None:
            write_csv_atomically(
                options["abilities"],
                ["person", "theta", "se"],
                (
                    [i + 1, _cell(result.ability[i]), _cell(result.se_ability[i])]
                    for i in range(len(result.ability))
                ),
            )
        self.stdout.write(
            f"{method}: {responses.shape[0]} persons, {len(names)} items, "
            f"converged={result.converged} in {result.n_iter} iterations; "
            f"wrote {options['output']}"
        )


def _cell(value):
    value = float(value)
    return "" if not math.isfinite(value) else f"{value:.6f}"


def read_responses_csv(path):
    """Read a responses CSV into (item names, (n_persons, n_items) array)."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.")
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise CommandError(f"{path} is empty; expected a header row of item names.")
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CommandError(f"{path} is not a readable CSV file: {exc}")
        names = [name.strip() for name in header]
        if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
            raise CommandError(
                f"{path}: the header is a single column {names[0]!r}; separate "
                "item names and cells with commas."
            )
        if not all(names):
            raise CommandError(f"{path}: the header has an empty item name.")
        if len(set(names)) != len(names):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            raise CommandError(
                f"{path}: repeated item names in the header: {duplicates}."
            )
        rows = []
        try:
            for line_number, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(names):
                    raise CommandError(
                        f"{path}, line {line_number}: {len(row)} cells, expected "
                        f"{len(names)} (one per item)."
                    )
                values = []
                for column, cell in enumerate(row):
                    cell = cell.strip()
                    if cell == "":
                        values.append(np.nan)
                    elif cell in ("0", "1"):
                        values.append(float(cell))
                    else:
                        raise CommandError(
                            f"{path}, line {line_number}, item {names[column]!r}: "
                            f"{cell!r} is not 0, 1 or empty."
                        )
                rows.append(values)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CommandError(f"{path} is not a readable CSV file: {exc}")
    if not rows:
        raise CommandError(f"{path} has a header but no responses.")
    return names, np.array(rows, dtype=float)


def write_csv_atomically(path, header, rows):
    """Write a CSV next to ``path`` and rename it into place when complete."""
    directory = path.resolve().parent
    if not directory.is_dir():
        raise CommandError(f"Cannot write {path}: {directory} is not a directory.")
    descriptor, temporary = tempfile.mkstemp(dir=directory, suffix=".partial")
    try:
        with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
