"""Webhooks: registration checks, signed delivery to a real receiver, retries."""

import time
from types import SimpleNamespace

import pytest
from django.db import transaction

from assessments.models import Membership
from jobs.models import Job
from jobs.services import create_job
from notifications import webhooks
from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import wait_for, wait_for_job

from .servers import WebhookReceiver

WORKER_ENV = {
    "WEBHOOKS_ALLOW_HTTP": "1",
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",
    "WEBHOOKS_RETRY_BACKOFF_SECONDS": "1",
    "WEBHOOKS_RETRY_BACKOFF_MAX_SECONDS": "2",
}


@pytest.fixture
def admin_api(api, user):
    Membership.objects.filter(user=user).update(role=Membership.Role.ADMIN)
    return api


@pytest.fixture
def test_targets(settings):
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hook",  # plain http
        "ftp://93.184.215.14/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://user:pw@93.184.215.14/hook",
        "not a url",
    ],
)
def test_production_settings_refuse_unsafe_urls(admin_api, settings, url):
    settings.WEBHOOKS_ALLOW_HTTP = False
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = admin_api.post("/api/v1/webhooks/", {"url": url}, format="json")
    assert response.status_code == 400
    assert "url" in response.data


def test_registration_generates_the_secret_and_shows_it_once(admin_api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = admin_api.post(
        "/api/v1/webhooks/",
        {
            "url": "https://93.184.215.14/hook",
            "events": ["job.failed"],
            "secret": "chosen",
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    secret = response.data["secret"]
    assert len(secret) == 64 and secret != "chosen"
    assert WebhookEndpoint.objects.get().secret == secret
    listed = admin_api.get("/api/v1/webhooks/").data["results"]
    assert "secret" not in listed[0]

    response = admin_api.post(
        "/api/v1/webhooks/",
        {"url": "https://93.184.215.14/hook", "events": ["job.exploded"]},
        format="json",
    )
    assert response.status_code == 400 and "events" in response.data


def test_members_see_webhooks_and_administrators_change_them(
    api, user, other_api, organisation, test_targets
):
    endpoint = WebhookEndpoint.objects.create(
        organisation=organisation, url="http://127.0.0.1:9/x"
    )
    url = f"/api/v1/webhooks/{endpoint.pk}/"
    # Another organisation's endpoint does not exist for its users.
    for method in ("get", "patch", "put", "delete"):
        assert getattr(other_api, method)(url, {}, format="json").status_code == 404
    assert other_api.get(f"{url}deliveries/").status_code == 404

    # A teacher sees it but may not change it.
    assert api.get(url).status_code == 200
    assert "secret" not in api.get(url).data
    assert api.patch(url, {"active": False}, format="json").status_code == 403
    assert api.delete(url).status_code == 403
    response = api.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/y"})
    assert response.status_code == 403
    assert WebhookEndpoint.objects.filter(active=True).count() == 1

    Membership.objects.filter(user=user).update(role=Membership.Role.ADMIN)
    assert api.patch(url, {"active": False}, format="json").status_code == 200
    assert api.delete(url).status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_signature_verification_rejects_tampering_and_old_timestamps(settings):
    body = b'{"a":1}'
    now = 1_800_000_000
    signature = "sha256=" + webhooks.sign("k", now, body)
    assert webhooks.verify("k", now, body, signature, now=now)
    assert not webhooks.verify("k", now, body + b" ", signature, now=now)
    assert not webhooks.verify("other", now, body, signature, now=now)
    assert not webhooks.verify("k", now, body, signature, now=now + 301)


def run_probe(organisation, fail=False):
    with transaction.atomic():
        return create_job(
            organisation=organisation,
            kind=Job.Kind.PROBE,
            params={"fail": "permanent"} if fail else {},
        )


@pytest.mark.integration
def test_job_end_is_delivered_signed_with_retries(
    organisation, other_organisation, worker_factory, test_targets
):
    with WebhookReceiver(fail_first=1) as receiver:
        endpoint = WebhookEndpoint.objects.create(
            organisation=organisation, url=receiver.url
        )
        receiver.secret = endpoint.secret
        failed_only = WebhookEndpoint.objects.create(
            organisation=organisation, url=receiver.url, events=["job.failed"]
        )
        WebhookEndpoint.objects.create(
            organisation=other_organisation, url=receiver.url
        )
        worker_factory(env=WORKER_ENV)

        job = wait_for_job(run_probe(organisation).pk)
        assert job.status == Job.Status.SUCCEEDED
        delivery = wait_for(
            lambda: WebhookDelivery.objects.filter(
                endpoint=endpoint, status=WebhookDelivery.Status.SUCCEEDED
            ).first(),
            message="the webhook delivery",
        )

    assert delivery.attempts == 2, "the first call got a 503 and was retried"
    assert delivery.status_code == 200 and delivery.response_snippet == "ok"
    assert receiver.rejected == []
    assert len(receiver.accepted) == 1, "one endpoint of this organisation wants it"
    call = receiver.accepted[0]
    assert call["event"] == "job.succeeded"
    assert call["event_id"] == str(delivery.pk) == call["payload"]["id"]
    assert call["payload"]["job"]["id"] == str(job.pk)
    assert not WebhookDelivery.objects.filter(endpoint=failed_only).exists()


@pytest.mark.integration
def test_failed_job_reaches_the_endpoints_that_want_failures(
    organisation, worker_factory, test_targets
):
    with WebhookReceiver() as receiver:
        failed_only = WebhookEndpoint.objects.create(
            organisation=organisation, url=receiver.url, events=["job.failed"]
        )
        receiver.secret = failed_only.secret
        worker_factory(env=WORKER_ENV, queues=["default", "emails"])
        ok = wait_for_job(run_probe(organisation).pk)
        failed = wait_for_job(run_probe(organisation, fail=True).pk)
        assert failed.status == Job.Status.FAILED
        wait_for(lambda: receiver.accepted, message="the failure event")
        time.sleep(1)  # a wrongly sent success event would have arrived too

    assert [call["event"] for call in receiver.accepted] == ["job.failed"]
    payload = receiver.accepted[0]["payload"]["job"]
    assert payload["id"] == str(failed.pk) and payload["error"]
    assert not WebhookDelivery.objects.filter(job=ok).exists()


@pytest.mark.integration
def test_receiver_rejects_a_replayed_old_call(organisation, test_targets, monkeypatch):
    with WebhookReceiver() as receiver:
        endpoint = WebhookEndpoint.objects.create(
            organisation=organisation, url=receiver.url
        )
        receiver.secret = endpoint.secret
        # The sender's clock an hour behind: the receiver's clock is real.
        hour_ago = SimpleNamespace(time=lambda: time.time() - 3600)
        monkeypatch.setattr(webhooks, "time", hour_ago)
        code, _ = webhooks.post(
            receiver.url,
            {"id": "x"},
            secret=endpoint.secret,
            event="job.succeeded",
            event_id="x",
        )
        monkeypatch.undo()
        assert code == 401 and receiver.rejected == ["old timestamp"]

        code, _ = webhooks.post(
            receiver.url,
            {"id": "y"},
            secret="not-the-secret",
            event="job.succeeded",
            event_id="y",
        )
        assert code == 401 and receiver.rejected[-1] == "bad signature"


@pytest.mark.integration
def test_refused_and_unreachable_deliveries_are_recorded(
    organisation, worker_factory, test_targets, settings
):
    from notifications.services import attempt_delivery, queue_webhooks

    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    with WebhookReceiver() as receiver:
        endpoint = WebhookEndpoint.objects.create(
            organisation=organisation, url=receiver.url
        )
        receiver.secret = "wrong"  # every call is refused with 401
        job = Job.objects.create(
            organisation=organisation, kind=Job.Kind.PROBE, status=Job.Status.FAILED
        )
        [delivery_id] = queue_webhooks(job)
        delivery = attempt_delivery(delivery_id)
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.status_code == 401 and delivery.attempts == 1

    gone = WebhookEndpoint.objects.create(
        organisation=organisation, url=receiver.url, events=["job.failed"]
    )
    endpoint.delete()
    [delivery_id] = queue_webhooks(job)
    from notifications.services import RetryWebhook

    with pytest.raises(RetryWebhook):
        attempt_delivery(delivery_id)
    delivery = attempt_delivery(delivery_id)
    assert delivery.endpoint == gone
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == 2 and "Gave up" in delivery.error


def test_https_delivery_verifies_the_certificate(tmp_path, test_targets):
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.headers["Host"], self.headers["X-DreamSeed-Event"]))
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/hook"
    try:
        trusting = ssl.create_default_context(cafile=str(cert))
        code, _ = webhooks.post(
            url,
            {"id": "1"},
            secret="k",
            event="job.succeeded",
            event_id="1",
            ssl_context=trusting,
        )
        assert code == 204
        assert received == [(url.split("/")[2], "job.succeeded")]

        # An untrusted certificate is an error (retried), never ignored.
        with pytest.raises(ssl.SSLError):
            webhooks.post(
                url, {"id": "2"}, secret="k", event="job.failed", event_id="2"
            )
        assert len(received) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_endpoint_owners_are_reread_after_the_refresh_interval(
    organisation, settings, django_assert_num_queries, monkeypatch
):
    from notifications import services

    settings.WEBHOOKS_ENDPOINTS_REFRESH_SECONDS = 5
    owners = services.EndpointOwners()
    clock = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])

    with django_assert_num_queries(1):
        assert organisation.pk not in owners
        assert organisation.pk not in owners  # answered from memory
    # Saved elsewhere (no signal reaches this instance): seen after the interval.
    WebhookEndpoint.objects.create(organisation=organisation, url="https://h.test/")
    clock[0] += 4.9
    with django_assert_num_queries(0):
        assert organisation.pk not in owners
    clock[0] += 0.2
    with django_assert_num_queries(1):
        assert organisation.pk in owners


def test_saving_an_endpoint_is_seen_at_once_in_the_same_process(organisation, settings):
    from notifications.services import ENDPOINT_OWNERS

    settings.WEBHOOKS_ENDPOINTS_REFRESH_SECONDS = 3600
    assert organisation.pk not in ENDPOINT_OWNERS
    endpoint = WebhookEndpoint.objects.create(
        organisation=organisation, url="https://h.test/"
    )
    assert organisation.pk in ENDPOINT_OWNERS
    endpoint.active = False
    endpoint.save()
    assert organisation.pk not in ENDPOINT_OWNERS
    endpoint.delete()
    assert organisation.pk not in ENDPOINT_OWNERS


def test_a_job_of_an_organisation_without_endpoints_costs_no_query(
    organisation, settings, django_assert_num_queries
):
    from notifications.services import ENDPOINT_OWNERS, queue_webhooks

    settings.WEBHOOKS_ENDPOINTS_REFRESH_SECONDS = 3600
    job = create_job(organisation=organisation, kind=Job.Kind.PROBE, publish=False)
    job.status = Job.Status.SUCCEEDED
    assert organisation.pk not in ENDPOINT_OWNERS  # read once
    with django_assert_num_queries(0):
        assert queue_webhooks(job) == []
