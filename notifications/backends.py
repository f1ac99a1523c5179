"""An e-mail backend for a production setup that has no mail server."""

from django.core.mail.backends.base import BaseEmailBackend

from dreamseed.exceptions import PermanentJobError


class NoMailServerBackend(BaseEmailBackend):
    """Refuse to send: nothing should be reported as sent that went nowhere."""

    def open(self):
        raise PermanentJobError(
            "no mail server is configured: set EMAIL_HOST (and EMAIL_PORT, "
            "EMAIL_HOST_USER, EMAIL_HOST_PASSWORD as needed); nothing was sent"
        )

    def send_messages(self, email_messages):
        self.open()
