"""Looking a student up by a school id the database could never hold."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_school_id_with_a_nul_finds_nobody_rather_than_failing(api, organisation):
    from assessments.models import Student

    Student.objects.create(organisation=organisation, external_id="S-001")
    response = api.get("/api/v1/students/", {"external_id": "S-001\x00"})
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
