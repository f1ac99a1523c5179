"""Create an organisation (a school or district) that users and data belong to."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from assessments.models import Organisation


class Command(BaseCommand):
    help = "Create the organisation SLUG named NAME (for create_api_user and imports)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Short identifier, e.g. 'north-high'.")
        parser.add_argument("name", help="Name people read, e.g. 'North High'.")

    def handle(self, *args, **options):
        organisation = Organisation(slug=options["slug"], name=options["name"])
        try:
            organisation.full_clean()
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}"
                for field, messages in exc.message_dict.items()
            )
            raise CommandError(f"Cannot create the organisation: {problems}")
        organisation.save()
        self.stdout.write(f"Created organisation {organisation.slug!r}.")
