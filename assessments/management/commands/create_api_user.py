"""Create a user of an organisation with an API token."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from assessments.models import Membership, Organisation


class Command(BaseCommand):
    help = "Create USERNAME as a member of ORG and print an API token for it."

    def add_arguments(self, parser):
        parser.add_argument("organisation", help="Organisation slug.")
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--role", choices=Membership.Role.values, default=Membership.Role.TEACHER
        )

    @transaction.atomic
    def handle(self, *args, **options):
        try:
            organisation = Organisation.objects.get(slug=options["organisation"])
        except Organisation.DoesNotExist:
            raise CommandError(
                f"No organisation with slug {options['organisation']!r}."
            )
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=options["username"], defaults={"email": options["email"]}
        )
        if created:
            user.set_unusable_password()
            user.save()
        membership = Membership.objects.filter(user=user).first()
        if membership and membership.organisation_id != organisation.pk:
            raise CommandError(
                f"{user.username!r} already belongs to "
                f"{membership.organisation.slug!r}."
            )
        Membership.objects.get_or_create(
            user=user, defaults={"organisation": organisation, "role": options["role"]}
        )
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
