"""Signing in at /api-auth/login/ lands on the API's docs, never off the site."""

import pytest
from django.test import Client

from tests.conftest import make_user


@pytest.mark.parametrize(
    "next_url",
    [None, "//evil.example/", "https://evil.example/", "/\\evil.example"],
)
def test_sign_in_without_a_local_next_lands_on_swagger(organisation, next_url):
    make_user(organisation, "ada")
    client = Client()
    url = (
        "/api-auth/login/" if next_url is None else f"/api-auth/login/?next={next_url}"
    )
    form = {"username": "ada", "password": "pw-ada"}
    if next_url is not None:
        form["next"] = next_url
    answer = client.post(url, form, follow=True)
    assert answer.redirect_chain == [("/api/v1/docs/", 302)]
    assert answer.status_code == 200


def test_sign_in_with_a_local_next_goes_there(organisation):
    make_user(organisation, "ada")
    answer = Client().post(
        "/api-auth/login/?next=/api/v1/jobs/",
        {"username": "ada", "password": "pw-ada", "next": "/api/v1/jobs/"},
    )
    assert answer.status_code == 302 and answer["Location"] == "/api/v1/jobs/"
