"""Which database errors the API answers as an outage (503) and which not."""

import pytest
from django.db import OperationalError, connection

from assessments.models import Student
from dreamseed.api import StudentListView


@pytest.mark.django_db(transaction=True)
def test_a_query_the_server_refuses_is_an_error_not_an_outage(api, monkeypatch):
    # A query beyond one of PostgreSQL's limits (here: more than 100
    # arguments to a function) is refused with an error psycopg classes as
    # OperationalError, though the server is up and the fault is the code's.
    def beyond_a_limit(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT concat(" + ", ".join(["'x'"] * 101) + ")")
        return Student.objects.none()

    monkeypatch.setattr(StudentListView, "get_queryset", beyond_a_limit)
    # Django's error (a 500, with its traceback logged), not a passing outage
    # the client is told to retry in 5 s, for ever.
    with pytest.raises(OperationalError, match="more than 100 arguments"):
        api.get("/api/v1/students/")

    monkeypatch.undo()
    assert api.get("/api/v1/students/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_answered_as_an_outage(api, monkeypatch):
    def ended_by_the_server(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return Student.objects.none()

    monkeypatch.setattr(StudentListView, "get_queryset", ended_by_the_server)
    response = api.get("/api/v1/students/")
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert response.json()["code"] == "database_unavailable"
    connection.close()
