"""A token holding a NUL byte is refused (PostgreSQL refuses NUL in text)."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_a_token_with_a_nul_byte_is_refused_not_a_server_error(user):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION="Token abc\x00def")
    assert client.get("/api/v1/jobs/").status_code == 401
