"""Real servers on 127.0.0.1 for the notification tests."""

import hashlib
import hmac
import json
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tests.conftest import free_port


class RecordingHandler:
    """Accept everything and remember each message and its connection."""

    def __init__(self, refuse=(), drop_after=None):
        self.messages = []
        self.refuse = {address.lower() for address in refuse}
        # Close the connection once, after this many messages were accepted.
        self.drop_after = drop_after
        self.dropped = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if (
            self.drop_after is not None
            and not self.dropped
            and len(self.messages) >= self.drop_after
        ):
            self.dropped = True
            server.transport.close()
            return "421 closing"
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content)
        self.messages.append(
            {
                "to": list(envelope.rcpt_tos),
                "subject": message["Subject"],
                "peer": session.peer,
                "body": message.get_payload(decode=True),
            }
        )
        return "250 Message accepted"

    @property
    def recipients(self):
        return [address for message in self.messages for address in message["to"]]

    @property
    def connections(self):
        return {message["peer"] for message in self.messages}


class SMTPServer:
    def __init__(self, handler, authenticator=None):
        self.handler = handler
        self.port = free_port()
        options = {}
        if authenticator is not None:
            # Plain-text login on loopback, for tests only.
            options = {"authenticator": authenticator, "auth_require_tls": False}
        self.controller = Controller(
            handler, hostname="127.0.0.1", port=self.port, **options
        )

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def env(self):
        return {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        }


class WebhookReceiver:
    """An HTTP server that checks signatures on its own and refuses old ones."""

    TOLERANCE_SECONDS = 300

    def __init__(self, secret=None, fail_first=0):
        self.secret = secret
        self.fail_first = fail_first
        self.accepted = []
        self.rejected = []
        self.calls = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.receive(self.headers, body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/dreamseed"

    def receive(self, headers, body):
        self.calls += 1
        timestamp = headers.get("X-DreamSeed-Timestamp", "")
        signature = headers.get("X-DreamSeed-Signature", "")
        expected = (
            "sha256="
            + hmac.new(
                self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        if not hmac.compare_digest(expected, signature):
            self.rejected.append("bad signature")
            return 401
        if abs(time.time() - int(timestamp)) > self.TOLERANCE_SECONDS:
            self.rejected.append("old timestamp")
            return 401
        if self.calls <= self.fail_first:
            return 503
        self.accepted.append(
            {
                "event_id": headers["X-DreamSeed-Event-Id"],
                "event": headers["X-DreamSeed-Event"],
                "payload": json.loads(body),
            }
        )
        return 200

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
