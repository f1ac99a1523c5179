"""create_api_user: a token for a new member, and clear errors for bad input."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def test_creates_a_member_and_prints_a_token(organisation, capsys):
    call_command("create_api_user", "springfield", "alice", email="a@example.org")
    token = capsys.readouterr().out.strip()
    user = get_user_model().objects.get(username="alice")
    assert user.auth_token.key == token
    assert user.membership.organisation == organisation


@pytest.mark.parametrize(
    ("username", "email", "message"),
    [
        ("", "", "cannot be blank"),
        ("x" * 151, "", "at most 150 characters"),
        ("bad name", "", "valid username"),
        ("nul\x00", "", "valid username"),
        ("bob", "not an address", "valid email"),
        ("bob", "a\nBcc: x@example.org", "valid email"),
    ],
)
def test_bad_input_is_a_command_error_and_creates_nothing(
    organisation, username, email, message
):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_user", "springfield", username, email=email)
    assert not get_user_model().objects.exists()
