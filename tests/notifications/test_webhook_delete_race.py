"""An endpoint deleted while a job's deliveries are being recorded."""

import pytest

from jobs.models import Job
from notifications import services
from notifications.models import WebhookDelivery, WebhookEndpoint


@pytest.mark.django_db(transaction=True)
def test_deleting_one_endpoint_does_not_lose_the_others_delivery(
    organisation, monkeypatch, settings
):
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    gone = WebhookEndpoint.objects.create(
        organisation=organisation, url="http://127.0.0.1:9/a"
    )
    kept = WebhookEndpoint.objects.create(
        organisation=organisation, url="http://127.0.0.1:9/b"
    )
    job = Job.objects.create(
        organisation=organisation, kind=Job.Kind.PROBE, status=Job.Status.SUCCEEDED
    )
    published = []
    monkeypatch.setattr(
        "notifications.tasks.deliver_webhook.delay", lambda pk: published.append(pk)
    )
    real_payload = services.job_payload

    def payload_then_delete(job, event, delivery_id):
        # An administrator deletes the first endpoint at this moment.
        if WebhookEndpoint.objects.filter(pk=gone.pk).exists():
            from django.db import connections

            other = connections.create_connection("default")
            try:
                with other.cursor() as cursor:
                    cursor.execute(
                        "DELETE FROM notifications_webhookendpoint WHERE id = %s",
                        [gone.pk],
                    )
            finally:
                other.close()
        return real_payload(job, event, delivery_id)

    monkeypatch.setattr(services, "job_payload", payload_then_delete)
    # The deleted endpoint's delivery is moot; the other endpoint's survives.
    created = services.queue_webhooks(job)
    delivery = WebhookDelivery.objects.get(endpoint=kept, job=job)
    assert created == [delivery.pk] and published == [str(delivery.pk)]
    assert not WebhookEndpoint.objects.filter(pk=gone.pk).exists()
