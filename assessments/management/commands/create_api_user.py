"""Create a user of an organisation with an API token."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
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
            slug = options["organisation"]
            raise CommandError(
                f"No organisation with slug {slug!r}. Create it first: "
                f"manage.py create_organisation {slug} 'Its name'."
            )
        User = get_user_model()
        # The model's own checks, as a form would run them: a blank, overlong
        # or oddly spelled name is an error here, not a row or a traceback.
        values = {}
        for name in ("username", "email"):
            field = User._meta.get_field(name)
            try:
                values[name] = field.clean(options[name], None)
            except ValidationError as exc:
                raise CommandError(
                    f"Bad {name} {options[name]!r}: {' '.join(exc.messages)}"
                )
        user, created = User.objects.get_or_create(
            username=values["username"], defaults={"email": values["email"]}
        )
        if created:
            user.set_unusable_password()
            user.save()
        membership = Membership.objects.filter(user=user).first()
        if membership and membership.organisation_id != organisation.pk:
            slug = membership.organisation.slug
            raise CommandError(f"{user.username!r} already belongs to {slug!r}.")
        Membership.objects.get_or_create(
            user=user, defaults={"organisation": organisation, "role": options["role"]}
        )
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
