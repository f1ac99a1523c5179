"""With the broker down, a batch submission does not try every member in turn.

Each refused publication costs about 0.6 s (kombu's own retries): a batch of
1,000 would answer after ten minutes. The rows are saved without the
messages and the sweeper publishes them, so the first refusal ends the loop.
The refusal is injected here; a real closed port gives the same exception.
"""

import pytest

from jobs import services
from jobs.models import Job

BATCH = "/api/v1/reports/batch/"


@pytest.mark.django_db(transaction=True)
def test_a_batch_stops_publishing_once_the_broker_refuses(
    api, organisation, monkeypatch
):
    from assessments.models import Assessment, Student

    assessment = Assessment.objects.create(
        organisation=organisation, code="A", name="A"
    )
    students = Student.objects.bulk_create(
        [Student(organisation=organisation, external_id=f"S-{i}") for i in range(50)]
    )
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(kwargs.get("task_id"))
        raise ConnectionRefusedError("Redis is down")

    monkeypatch.setattr(services.TASKS_BY_KIND[Job.Kind.REPORT], "apply_async", refuse)
    response = api.post(
        BATCH,
        {"assessment": str(assessment.pk), "students": [str(s.pk) for s in students]},
        format="json",
    )
    assert response.status_code == 202
    assert Job.objects.filter(parent_id=response.json()["id"]).count() == 50
    assert len(attempts) == 1  # the first refusal ends the loop
