"""Render per-student PDF reports from Quarto templates, without Django."""

import atexit

from .api import (
    RenderResult,
    available_engines,
    render_report,
    select_engine,
    shutdown,
    template_version,
)
from .exceptions import EngineUnavailable, RenderError, RenderTimeout, TemplateError
from .quarto import quarto_command

__all__ = [
    "EngineUnavailable",
    "RenderError",
    "RenderResult",
    "RenderTimeout",
    "TemplateError",
    "available_engines",
    "quarto_command",
    "render_report",
    "select_engine",
    "shutdown",
    "template_version",
]

# A kernel left behind would outlive the worker in its own process group.
atexit.register(shutdown)
