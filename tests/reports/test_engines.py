"""Engine selection, the Quarto command line and template versions."""

import pytest

from reports.rendering import (
    EngineUnavailable,
    available_engines,
    quarto_command,
    render_report,
    select_engine,
    template_version,
)
from reports.rendering.quarto import find_quarto

from .conftest import TEMPLATES, pdf_text
from .sample_data import make_report_data


def test_quarto_command_line():
    assert quarto_command("/opt/quarto/bin/quarto") == [
        "/opt/quarto/bin/quarto",
        "render",
        "report.qmd",
        "--to",
        "typst",
        "--execute-params",
        "params.yml",
    ]


def test_auto_selects_builtin_without_quarto(monkeypatch, tmp_path):
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert select_engine("auto") == "builtin"
    assert available_engines() == ["builtin"]
    with pytest.raises(EngineUnavailable, match="QUARTO_PATH"):
        select_engine("quarto")


def test_quarto_path_is_honoured(monkeypatch, tmp_path):
    fake = tmp_path / "quarto"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("QUARTO_PATH", str(fake))
    assert find_quarto() == str(fake)
    assert select_engine("auto") == "quarto"
    monkeypatch.setenv("QUARTO_PATH", str(tmp_path))
    assert find_quarto() == str(fake)


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="latex"):
        select_engine("latex")


def test_template_version_follows_the_content(tmp_path):
    template = tmp_path / "t.qmd"
    template.write_text("---\ntitle: A\n---\n")
    first = template_version(template)
    assert template_version(template) == first
    template.write_text("---\ntitle: B\n---\n")
    assert template_version(template) != first


@pytest.mark.skipif(
    find_quarto() is None,
    reason="quarto is not installed (set QUARTO_PATH or put it on PATH)",
)
@pytest.mark.parametrize("name", ["comprehensive.qmd", "summary.qmd"])
def test_quarto_renders_the_templates(name):
    result = render_report(TEMPLATES / name, make_report_data(), engine="quarto")
    assert result.engine == "quarto"
    text = pdf_text(result.pdf)
    assert "LSAT-0001" in text
    assert "0.41 (SE 0.31)" in text
