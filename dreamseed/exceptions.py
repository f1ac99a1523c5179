"""The project's base exceptions, shared by every app."""


class DreamSeedError(Exception):
    """Base of every error the project raises on purpose."""


class PermanentJobError(DreamSeedError):
    """The job cannot succeed as asked: retrying would fail the same way.

    ``result`` (JSON-safe) is stored with the failure, for outcomes that are
    partly done, such as a batch of e-mails some recipients refused.
    """

    code = "permanent_error"

    def __init__(self, message, *, result=None):
        super().__init__(message)
        self.result = result


class TransientJobError(DreamSeedError):
    """A passing fault (a connection, a storage outage): worth retrying."""

    code = "transient_error"


class JobCancelled(DreamSeedError):
    """The job was cancelled while it ran.

    ``result`` (JSON-safe), set by the work that stopped, is stored with the
    cancellation: a cancelled calibration names the run it leaves behind.
    """

    code = "cancelled"
    result = None
