"""Errors of the exports app."""

from dreamseed.exceptions import PermanentJobError


class ExportError(PermanentJobError):
    """The export cannot be produced as asked."""

    code = "export_error"
