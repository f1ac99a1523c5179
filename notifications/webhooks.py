"""Signed webhook calls: URL checks against SSRF, signing, one HTTP attempt."""

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-DreamSeed-Signature"
TIMESTAMP_HEADER = "X-DreamSeed-Timestamp"
EVENT_ID_HEADER = "X-DreamSeed-Event-Id"
EVENT_HEADER = "X-DreamSeed-Event"

# Bytes of a response kept on the delivery row, for people debugging it.
SNIPPET_BYTES = 500


class UnsafeTarget(Exception):
    """The URL points somewhere webhooks may not go."""


def sign(secret, timestamp, body):
    """Return the hex HMAC-SHA256 of ``timestamp + "." + body``."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret, timestamp, body, signature, *, now=None, tolerance=None):
    """Tell whether a received call is authentic and recent (for receivers)."""
    tolerance = tolerance or settings.WEBHOOKS_SIGNATURE_TOLERANCE_SECONDS
    now = time.time() if now is None else now
    try:
        timestamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = "sha256=" + sign(secret, timestamp, body)
    return hmac.compare_digest(expected, signature or "")


def _address_allowed(address):
    if settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        return True
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_target(url):
    """Return ``(host, port, address)`` for ``url``, or raise UnsafeTarget.

    Every address the name resolves to must be allowed: a name with one
    public and one private address could otherwise be pointed inside.
    """
    parts = urlsplit(url)
    allowed_schemes = ("https", "http") if settings.WEBHOOKS_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed_schemes:
        raise UnsafeTarget(f"scheme {parts.scheme!r} is not allowed; use https")
    if parts.username or parts.password:
        raise UnsafeTarget("credentials in the URL are not allowed")
    host = parts.hostname
    if not host:
        raise UnsafeTarget("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget(str(exc))
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"host {host!r} does not resolve: {exc}")
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise UnsafeTarget(f"host {host!r} does not resolve")
    for address in addresses:
        if not _address_allowed(address):
            raise UnsafeTarget(f"host {host!r} resolves to a non-public address")
    return host, port, addresses[0]


def validate_webhook_url(url):
    """Raise ValidationError unless ``url`` is a safe webhook target."""
    URLValidator(schemes=["http", "https"])(url)
    try:
        resolve_target(url)
    except UnsafeTarget as exc:
        raise ValidationError(str(exc), code="unsafe_url")


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address checked beforehand, with SNI and certificate of host."""

    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url, payload, *, secret, event, event_id, timeout=None, ssl_context=None):
    """POST the signed payload once; return ``(status_code, snippet)``.

    The name is resolved and checked again here, and the connection goes to
    the checked address, so a DNS answer that changed since registration
    cannot redirect the call inside. Redirects are not followed.
    """
    timeout = timeout or settings.WEBHOOKS_TIMEOUT_SECONDS
    host, port, address = resolve_target(url)
    parts = urlsplit(url)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "DreamSeed-Webhooks/1",
        "Host": parts.netloc.rpartition("@")[2],
        SIGNATURE_HEADER: "sha256=" + sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_ID_HEADER: str(event_id),
        EVENT_HEADER: event,
    }
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(
            host,
            port,
            address,
            timeout=timeout,
            context=ssl_context or ssl.create_default_context(),
        )
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        snippet = response.read(SNIPPET_BYTES).decode("utf-8", "replace")
        return response.status, snippet
    finally:
        connection.close()
