"""Property-based requests generated from the OpenAPI schema: never a 5xx.

Every operation gets a bounded number of generated requests, sent in-process
to the WSGI application with a valid token. Only server errors fail the test:
4xx answers to nonsense are the point.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from dreamseed.wsgi import application


def load_schema():
    import django

    django.setup()
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(load_schema())
schema.app = application


@pytest.fixture
def token(db, user, student, assessment, probe_job):
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from rest_framework.authtoken.models import Token

    # As Django's test client does: a request must not close the connection
    # that holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield Token.objects.get_or_create(user=user)[0].key
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_no_server_errors(case, token):
    response = case.call(headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: "
        f"{response.text[:500]}"
    )
