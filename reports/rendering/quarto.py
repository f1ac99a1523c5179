"""The Quarto engine: run the real Quarto CLI on a copy of the template."""

import os
import shutil
from pathlib import Path

import yaml

from .builtin import run_command
from .exceptions import EngineUnavailable, RenderError


def find_quarto():
    """Return the quarto executable from ``QUARTO_PATH`` or ``PATH``, or None."""
    configured = os.environ.get("QUARTO_PATH")
    if configured:
        path = Path(configured)
        if path.is_dir():
            for candidate in (path / "quarto", path / "bin" / "quarto"):
                if os.access(candidate, os.X_OK) and candidate.is_file():
                    return str(candidate)
            return None
        return str(path) if os.access(path, os.X_OK) else None
    return shutil.which("quarto")


def quarto_command(quarto, template_name="report.qmd", params_file="params.yml"):
    """Return the command line that renders a template to PDF with Typst."""
    return [
        os.fspath(quarto),
        "render",
        os.fspath(template_name),
        "--to",
        "typst",
        "--execute-params",
        os.fspath(params_file),
    ]


def render(template_path, workdir, params, deadline, checkpoint):
    """Render a template with Quarto and return PDF bytes.

    Quarto runs the whole document in one command, so ``checkpoint()`` is
    called only before it starts.
    """
    quarto = find_quarto()
    if quarto is None:
        raise EngineUnavailable(
            "quarto was not found: install it or set QUARTO_PATH to its binary"
        )
    workdir = Path(workdir)
    shutil.copyfile(template_path, workdir / "report.qmd")
    (workdir / "params.yml").write_text(yaml.safe_dump(params), encoding="utf-8")
    checkpoint()
    run_command(quarto_command(quarto), workdir, deadline, "quarto")
    pdf = workdir / "report.pdf"
    if not pdf.exists():
        raise RenderError("quarto finished without writing report.pdf")
    return pdf.read_bytes()
