"""Render real reports with the builtin engine and read the PDFs back."""

import multiprocessing
import os
import time

import psutil
import pytest

from reports.rendering import (
    RenderResult,
    RenderTimeout,
    TemplateError,
    render_report,
    template_version,
)
from reports.rendering import kernel as kernels

from .conftest import FIXTURES, TEMPLATES, pdf_image_count, pdf_pages, pdf_text
from .sample_data import make_report_data


def _alive(pid):
    """Return whether a process runs (a zombie awaiting its reaper does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group_gone(pgid, wait_seconds=3.0):
    """Return whether the process group empties; init may reap orphans late."""
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def render(template, data, **kwargs):
    return render_report(template, data, engine="builtin", **kwargs)


def test_comprehensive_report_shows_student_ability_and_figure():
    template = TEMPLATES / "comprehensive.qmd"
    result = render(template, make_report_data(n_items=20))

    assert isinstance(result, RenderResult)
    assert result.engine == "builtin"
    assert result.template_hash == template_version(template)
    assert result.pdf.startswith(b"%PDF")
    text = pdf_text(result.pdf)
    assert "LSAT-0001" in text
    assert "0.41 (SE 0.31)" in text
    assert "ITEM20" in text
    assert pdf_image_count(result.pdf) >= 1


def test_report_without_ability_renders_and_says_so():
    data = make_report_data(n_items=8, calibrated=False)
    for name in ("comprehensive.qmd", "summary.qmd"):
        text = pdf_text(render(TEMPLATES / name, data).pdf)
        assert "no calibrated ability yet" in text
        assert "LSAT-0001" in text


def test_report_with_no_responses_renders():
    data = make_report_data(n_items=0, calibrated=False)
    text = pdf_text(render(TEMPLATES / "comprehensive.qmd", data).pdf)
    assert "No responses have been recorded" in text


def test_summary_fits_one_page():
    result = render(TEMPLATES / "summary.qmd", make_report_data(n_items=30))
    assert pdf_pages(result.pdf) == 1
    assert "0.41 (SE 0.31)" in pdf_text(result.pdf)
    assert pdf_image_count(result.pdf) == 1


def test_inline_expressions_and_echoed_output():
    text = pdf_text(render(FIXTURES / "inline.qmd", make_report_data(n_items=3)).pdf)
    assert "Name is Student 0001 and six times seven is 42" in text
    assert 'print("plain output")' in text
    assert "plain output" in text.replace('print("plain output")', "")


def test_cell_error_names_the_cell():
    with pytest.raises(TemplateError, match=r"'broken-cell'.*ValueError.*no scores"):
        render(FIXTURES / "cell_error.qmd", make_report_data(n_items=3))


@pytest.mark.parametrize(
    ("fixture", "feature"),
    [("r_cell.qmd", r"\{r\} cell"), ("knitr_engine.qmd", "engine: knitr")],
)
def test_unsupported_feature_is_named(fixture, feature):
    with pytest.raises(TemplateError, match=feature):
        render(FIXTURES / fixture, make_report_data(n_items=3))


def test_warm_kernel_forgets_the_previous_report():
    first = make_report_data(n_items=3, external_id="FIRST-STUDENT")
    text = pdf_text(render(FIXTURES / "isolation_set.qmd", first).pdf)
    assert "Stored FIRST-STUDENT" in text
    pid = kernels.current().pid

    text = pdf_text(render(FIXTURES / "isolation_check.qmd", first).pdf)
    assert "LEAKED=False" in text
    assert "FIGURES=0" in text
    # The same kernel served both reports: isolation comes from the reset.
    assert f"PID={pid}" in text
    assert kernels.current().pid == pid


def test_timeout_kills_the_kernel_group_and_the_next_render_works(tmp_path):
    render(FIXTURES / "isolation_check.qmd", make_report_data(n_items=1))
    kernel = kernels.current()
    pid, connection_file = kernel.pid, kernel.connection_file
    pid_file = tmp_path / "child.pid"
    data = make_report_data(n_items=1)
    data["pid_file"] = str(pid_file)
    workdirs = tmp_path / "work"
    workdirs.mkdir()

    started = time.monotonic()
    with pytest.raises(RenderTimeout):
        render(FIXTURES / "slow.qmd", data, timeout_seconds=3, workdir_parent=workdirs)
    assert time.monotonic() - started < 6

    child = int(pid_file.read_text())
    assert not _alive(pid) and not _alive(child)
    assert _group_gone(pid)
    assert not os.path.exists(connection_file)
    assert list(workdirs.iterdir()) == []
    assert kernels.current() is None

    result = render(TEMPLATES / "summary.qmd", make_report_data(n_items=5))
    assert "LSAT-0001" in pdf_text(result.pdf)
    assert kernels.current().pid != pid


def test_temporary_directory_is_removed(tmp_path):
    render(
        TEMPLATES / "summary.qmd", make_report_data(n_items=3), workdir_parent=tmp_path
    )
    assert list(tmp_path.iterdir()) == []


def _render_in_child(queue):
    result = render(TEMPLATES / "summary.qmd", make_report_data(n_items=3))
    queue.put(pdf_text(result.pdf))
    kernels.shutdown()


def test_forked_child_of_a_rendering_process_still_renders():
    render(TEMPLATES / "summary.qmd", make_report_data(n_items=3))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_render_in_child, args=(queue,))
    child.start()
    try:
        assert "LSAT-0001" in queue.get(timeout=30)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
