"""Render a report template to PDF: the functions the rest of the project calls."""

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import builtin, kernel, quarto, tempdirs
from .exceptions import EngineUnavailable

logger = logging.getLogger(__name__)

ENGINES = ("builtin", "quarto")


@dataclass
class RenderResult:
    """A rendered report."""

    pdf: bytes
    engine: str
    seconds: float
    template_hash: str


def available_engines():
    """Return the names of the engines that can run here."""
    engines = ["builtin"]
    if quarto.find_quarto():
        engines.append("quarto")
    return engines


def select_engine(engine="auto"):
    """Return the engine to use: ``auto`` prefers Quarto when it is installed."""
    if engine == "auto":
        return "quarto" if quarto.find_quarto() else "builtin"
    if engine not in ENGINES:
        raise ValueError(f"engine must be auto, builtin or quarto, not {engine!r}")
    if engine == "quarto" and not quarto.find_quarto():
        raise EngineUnavailable(
            "quarto was not found: install it or set QUARTO_PATH to its binary"
        )
    return engine


@lru_cache(maxsize=1)
def _engine_code_hash():
    """Hash the renderer's own files, so a code change invalidates caches."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted(here.glob("*.py")) + sorted(here.glob("*.typ")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def template_version(template):
    """Return a hash of the template's content and the renderer's code."""
    digest = hashlib.sha256()
    digest.update(Path(template).read_bytes())
    digest.update(_engine_code_hash().encode())
    return digest.hexdigest()


def render_report(
    template,
    data,
    *,
    engine="auto",
    timeout_seconds=120,
    workdir_parent=None,
    checkpoint=None,
):
    """Render a template with the data and return the PDF.

    The data is written to ``data.json`` in a fresh temporary directory and
    the template receives its path as the parameter ``data_file``. The
    directory is removed afterwards, whatever happens.

    ``checkpoint()``, if given, is called before each cell and each step; it
    stops the render by raising (a job that was cancelled, say).
    """
    template = Path(template)
    name = select_engine(engine)
    template_hash = template_version(template)
    started = time.monotonic()
    deadline = started + timeout_seconds
    try:
        payload = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"report data must be JSON-safe: {exc}") from None

    # A process that replaces a killed one cleans up what that one left.
    tempdirs.remove_orphans_once()
    tempdirs.remove_orphans_once(workdir_parent)
    workdir = Path(tempdirs.make("render", workdir_parent))
    try:
        data_file = workdir / "data.json"
        data_file.write_text(payload, encoding="utf-8")
        params = {"data_file": str(data_file)}
        render = builtin.render if name == "builtin" else quarto.render
        pdf = render(template, workdir, params, deadline, checkpoint or _go_on)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.monotonic() - started
    logger.info("Rendered %s with %s in %.2f s", template.name, name, seconds)
    return RenderResult(pdf, name, seconds, template_hash)


def _go_on():
    """The checkpoint of a render nobody will stop."""


def shutdown():
    """Stop the warm kernel of this process (call at worker process exit)."""
    kernel.shutdown()
