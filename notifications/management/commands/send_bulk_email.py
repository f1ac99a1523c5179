from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessments.models import Organisation
from notifications.serializers import BulkEmailSerializer
from notifications.services import submit_bulk_email


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
        # The API's checks, so the command cannot queue what the API refuses.
        serializer = BulkEmailSerializer(
            data={"subject": subject, "body": body, "audience": audience},
            context={"organisation": org},
        )
        if not serializer.is_valid():
            raise CommandError(
                "; ".join(
                    f"{field}: {' '.join(str(m) for m in messages)}"
                    for field, messages in serializer.errors.items()
                )
            )
        data = serializer.validated_data
        with transaction.atomic():
            job = submit_bulk_email(
                organisation=org,
                subject=data["subject"],
                body=data["body"],
                audience=data["audience"],
            )
        self.stdout.write(f"{job.pk} {len(job.params['to'])} recipients")
