"""Run the main job end to end on the LSAT-7 data."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessments.lsat7 import load_lsat7_organisation
from assessments.models import Student
from calibration.models import CalibrationRun
from calibration.services import parameter_table, submit_calibration
from dreamseed.waiting import quiet_logging, wait_for_job
from jobs.models import Job
from reports.models import Report
from reports.services import submit_report


class Command(BaseCommand):
    help = (
        "Load LSAT-7, calibrate it and render one student's report through "
        "Celery workers, printing the item parameters and the PDF's path."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--method",
            choices=["jmle", "mml"],
            default="mml",
            help="Calibration method (default mml: with LSAT-7's five items the "
            "2PL joint likelihood has no finite maximum, so jmle is refused).",
        )
        parser.add_argument(
            "--student",
            default="LSAT-0500",
            help="External id of the student to report on.",
        )
        parser.add_argument(
            "--start-worker",
            action="store_true",
            help="Start a Celery worker for the run and stop it afterwards.",
        )
        parser.add_argument(
            "--timeout", type=int, default=300, help="Seconds to wait for each job."
        )

    def handle(self, *args, **options):
        worker = self._start_worker() if options["start_worker"] else None
        try:
            with quiet_logging(options["verbosity"]):
                self._run(options)
        finally:
            if worker is not None:
                self._stop_worker(worker)

    def _run(self, options):
        organisation, assessment, created = load_lsat7_organisation()
        self.stdout.write(
            f"Data: LSAT-7, {organisation.students.count()} students, "
            f"{organisation.items.count()} items"
            + (" (loaded now)" if created else " (already loaded)")
        )

        if options["method"] == "mml":
            self.stdout.write(
                "Calibrating by marginal maximum likelihood: with five items per "
                "person the 2PL joint likelihood (jmle) has no finite maximum."
            )
        with transaction.atomic():
            job = submit_calibration(organisation, method=options["method"])
        job = wait_for_job(job.pk, timeout=options["timeout"], label="calibration")
        if job.status != Job.Status.SUCCEEDED:
            message = f"Calibration {job.status}: {job.error}"
            kept = (job.result or {}).get("calibration_run")
            if kept:
                message += (
                    f" The run is {kept}: GET /api/v1/calibrations/{kept}/ or the "
                    "admin's Calibration runs page shows it."
                )
            raise CommandError(message)
        run = CalibrationRun.objects.get(pk=job.result["calibration_run"])
        self.stdout.write(
            f"Calibration run {run.pk}: {run.get_method_display()}, "
            f"converged={run.converged} after {run.n_iterations} iterations, "
            f"log-likelihood {run.log_likelihood:.3f}"
        )
        for line in parameter_table(run):
            self.stdout.write(line)

        try:
            student = Student.objects.get(
                organisation=organisation, external_id=options["student"]
            )
        except Student.DoesNotExist:
            raise CommandError(f"No student {options['student']!r} in the demo data.")
        with transaction.atomic():
            job = submit_report(
                organisation=organisation, student=student, assessment=assessment
            )
        job = wait_for_job(job.pk, timeout=options["timeout"], label="report")
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"Report {job.status}: {job.error}")
        report = Report.objects.get(pk=job.result["report"])
        path = report.pdf.path if hasattr(report.pdf, "path") else report.pdf.name
        self.stdout.write(
            f"Report for {student.external_id} ({report.engine} engine, "
            f"{report.pdf_size} bytes): {path}"
        )

    def _start_worker(self):
        command = [
            sys.executable,
            "-m",
            "celery",
            "--quiet",
            "-A",
            "dreamseed",
            "worker",
            "--loglevel=WARNING",
            "--concurrency=2",
            "-Q",
            ",".join(q.name for q in settings.CELERY_TASK_QUEUES),
        ]
        self.stdout.write("Starting a Celery worker for the demo...")
        process = subprocess.Popen(command, start_new_session=True)
        time.sleep(1)
        if process.poll() is not None:
            raise CommandError(
                f"The worker exited at once (code {process.returncode})."
            )
        return process

    def _stop_worker(self, process):
        # A warm shutdown lets each pool process stop its report kernel.
        try:
            process.terminate()
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
