"""Render the reports of an assessment's students as one batch job."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessments.models import Assessment, Organisation, Student
from dreamseed.waiting import quiet_logging, wait_for_job
from jobs.models import Job

from ...models import Report, ReportType
from ...services import submit_batch


class Command(BaseCommand):
    help = "Render reports for every student of an assessment (or those named)."

    def add_arguments(self, parser):
        parser.add_argument("organisation", help="Organisation slug.")
        parser.add_argument("assessment", help="Assessment code.")
        parser.add_argument(
            "--student", action="append", default=[], help="External id; repeatable."
        )
        parser.add_argument(
            "--type", choices=ReportType.values, default="comprehensive"
        )
        parser.add_argument("--priority", type=int, default=None, choices=range(10))
        parser.add_argument("--no-wait", action="store_true")
        parser.add_argument("--timeout", type=int, default=3600)

    def handle(self, *args, **options):
        try:
            organisation = Organisation.objects.get(slug=options["organisation"])
            assessment = Assessment.objects.get(
                organisation=organisation, code=options["assessment"]
            )
        except Organisation.DoesNotExist:
            raise CommandError(
                f"No organisation with slug {options['organisation']!r}."
            )
        except Assessment.DoesNotExist:
            raise CommandError(
                f"No assessment {options['assessment']!r} in {organisation.slug!r}."
            )
        students = Student.objects.filter(organisation=organisation)
        if options["student"]:
            students = list(students.filter(external_id__in=options["student"]))
            missing = set(options["student"]) - {s.external_id for s in students}
            if missing:
                raise CommandError(f"Unknown students: {', '.join(sorted(missing))}.")
        else:
            students = list(
                students.filter(responses__assessment=assessment).distinct()
            )
        if not students:
            raise CommandError("No student has taken this assessment.")

        with transaction.atomic():
            batch = submit_batch(
                organisation=organisation,
                assessment=assessment,
                students=students,
                report_type=options["type"],
                priority=options["priority"],
            )
        if options["no_wait"]:
            self.stdout.write(str(batch.pk))
            return
        with quiet_logging(options["verbosity"]):
            batch = wait_for_job(batch.pk, timeout=options["timeout"], label="reports")
        result = batch.result or {}
        for report in (
            Report.objects.filter(job__parent=batch, status=Report.Status.SUCCEEDED)
            .select_related("student")
            .order_by("student__external_id")
        ):
            self.stdout.write(f"{report.student.external_id}: {report.pdf.path}")
        self.stdout.write(
            f"{result.get('succeeded', 0)} of {result.get('total', len(students))} "
            f"reports rendered; {result.get('failed', 0)} failed."
        )
        if batch.status != Job.Status.SUCCEEDED:
            for member in result.get("members", []):
                if member["status"] != "succeeded":
                    self.stderr.write(f"  job {member['job']}: {member['error']}")
            raise CommandError(f"Batch {batch.status}: {batch.error}")
