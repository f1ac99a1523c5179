from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessments.models import Organisation
from notifications.services import organisation_recipients, submit_bulk_email


class Command(BaseCommand):
    help = "Queue one e-mail to every member of an organisation in an audience."

    def add_arguments(self, parser):
        parser.add_argument("--organisation", required=True, help="Slug.")
        parser.add_argument("--subject", required=True)
        parser.add_argument("--body", required=True)
        parser.add_argument(
            "--audience", choices=["teachers", "admins", "members"], default="teachers"
        )

    def handle(self, *args, organisation, subject, body, audience, **options):
        org = Organisation.objects.filter(slug=organisation).first()
        if org is None:
            raise CommandError(f"no organisation with slug {organisation!r}")
        if "\n" in subject:
            raise CommandError("the subject must be one line")
        if not organisation_recipients(org, audience):
            raise CommandError(f"nobody in {audience!r} of {org} has an e-mail address")
        with transaction.atomic():
            job = submit_bulk_email(
                organisation=org, subject=subject, body=body, audience=audience
            )
        self.stdout.write(f"{job.pk} {len(job.params['to'])} recipients")
