from dreamseed.exceptions import PermanentJobError, TransientJobError


class ReportError(PermanentJobError):
    code = "report_error"


class ReportTemplateError(ReportError):
    """The template or one of its cells failed; retrying would fail again."""

    code = "template_error"


class ReportTimeout(ReportError):
    code = "render_timeout"


class ReportStorageError(TransientJobError):
    """The PDF could not be stored; the storage may come back."""

    code = "storage_unavailable"
