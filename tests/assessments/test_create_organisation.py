"""Creating an organisation from the command line, then a user in it."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments.models import Membership, Organisation


def test_an_organisation_then_its_api_user(db):
    out = io.StringIO()
    call_command("create_organisation", "north-high", "North High", stdout=out)
    assert out.getvalue().strip() == "Created organisation 'north-high'."
    organisation = Organisation.objects.get(slug="north-high")
    assert organisation.name == "North High"

    token = io.StringIO()
    call_command("create_api_user", "north-high", "alice", stdout=token)
    assert len(token.getvalue().strip()) == 40
    assert Membership.objects.get(user__username="alice").organisation == organisation


def test_a_user_for_a_missing_organisation_says_how_to_create_it(db):
    with pytest.raises(CommandError) as error:
        call_command("create_api_user", "south-high", "bob")
    assert str(error.value) == (
        "No organisation with slug 'south-high'. Create it first: "
        "manage.py create_organisation south-high 'Its name'."
    )


@pytest.mark.parametrize(
    ("slug", "name", "problem"),
    [
        ("north high", "North High", "slug: Enter a valid “slug”"),
        ("north-high", "", "name: This field cannot be blank."),
    ],
)
def test_bad_or_duplicate_organisations_are_refused(db, slug, name, problem):
    call_command("create_organisation", "taken", "Taken", stdout=io.StringIO())
    with pytest.raises(CommandError, match=problem):
        call_command("create_organisation", slug, name)
    with pytest.raises(CommandError, match="slug: Organisation with this Slug"):
        call_command("create_organisation", "taken", "Again")
