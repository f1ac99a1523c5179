"""Objects of one organisation that the API tests submit and read."""

import pytest


@pytest.fixture
def student(organisation):
    from assessments.models import Student

    return Student.objects.create(organisation=organisation, external_id="S-001")


@pytest.fixture
def assessment(organisation):
    from assessments.models import Assessment

    return Assessment.objects.create(
        organisation=organisation, code="MATH-1", name="Maths"
    )


@pytest.fixture
def other_student(other_organisation):
    from assessments.models import Student

    return Student.objects.create(organisation=other_organisation, external_id="X-1")


@pytest.fixture
def probe_job(organisation, user):
    from jobs.models import Job
    from jobs.services import create_job

    return create_job(
        organisation=organisation,
        kind=Job.Kind.PROBE,
        submitted_by=user,
        publish=False,
    )
