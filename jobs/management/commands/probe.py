"""Send diagnostic probe jobs through the workers and report how they fared."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessments.models import Organisation
from jobs.models import Job
from jobs.services import create_jobs
from jobs.tasks import PROBE_MAX_SECONDS


class Command(BaseCommand):
    help = (
        "Submit COUNT no-op probe jobs for ORG and wait until workers have run "
        "them all: a check that the broker, workers and database work together."
    )

    def add_arguments(self, parser):
        parser.add_argument("organisation", help="Organisation slug.")
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument(
            "--seconds", type=float, default=0.0, help="Sleep per probe."
        )
        parser.add_argument("--priority", type=int, choices=range(10), default=None)
        parser.add_argument("--timeout", type=int, default=60)

    def handle(self, *args, **options):
        if not 1 <= options["count"] <= 100_000:
            raise CommandError("--count must be between 1 and 100000.")
        if not 0 <= options["seconds"] <= PROBE_MAX_SECONDS:
            raise CommandError(f"--seconds must be between 0 and {PROBE_MAX_SECONDS}.")
        try:
            organisation = Organisation.objects.get(slug=options["organisation"])
        except Organisation.DoesNotExist:
            raise CommandError(
                f"No organisation with slug {options['organisation']!r}."
            )

        started = time.monotonic()
        # One INSERT and one log line, however many probes.
        with transaction.atomic():
            ids = [
                job.pk
                for job in create_jobs(
                    organisation=organisation,
                    kind=Job.Kind.PROBE,
                    params_list=[{"seconds": options["seconds"]}] * options["count"],
                    priority=options["priority"],
                )
            ]
        deadline = started + options["timeout"]
        jobs = Job.objects.filter(pk__in=ids)
        while jobs.exclude(status__in=Job.TERMINAL).exists():
            if time.monotonic() > deadline:
                waiting = jobs.exclude(status__in=Job.TERMINAL).count()
                raise CommandError(
                    f"{waiting} of {len(ids)} probes unfinished after "
                    f"{options['timeout']} s: are workers consuming the default queue?"
                )
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        failed = list(jobs.exclude(status=Job.Status.SUCCEEDED).values("pk", "error"))
        self.stdout.write(
            f"{len(ids) - len(failed)} of {len(ids)} probes succeeded in "
            f"{elapsed:.1f} s ({len(ids) / elapsed:.0f} jobs/s)"
        )
        if failed:
            for job in failed[:10]:
                self.stderr.write(f"  {job['pk']}: {job['error']}")
            raise CommandError(f"{len(failed)} probes did not succeed.")
