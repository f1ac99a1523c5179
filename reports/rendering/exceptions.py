"""Exceptions raised by the report renderer."""


class RenderError(Exception):
    """A report could not be rendered."""


class TemplateError(RenderError):
    """The template is wrong: rendering it again will fail the same way."""


class RenderTimeout(RenderError):
    """The render took longer than its time limit and was stopped."""


class EngineUnavailable(RenderError):
    """The requested rendering engine is not installed here."""
