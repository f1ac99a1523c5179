"""Render real reports with the builtin engine and read the PDFs back."""

import json
import multiprocessing
import os
import time
from pathlib import Path

import psutil
import pytest

from reports.rendering import (
    RenderResult,
    RenderTimeout,
    TemplateError,
    qmd,
    render_report,
    template_version,
)
from reports.rendering import kernel as kernels

from .conftest import FIXTURES, TEMPLATES, pdf_image_count, pdf_pages, pdf_text
from .sample_data import make_report_data, with_ability, with_all_answers


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


def flat_text(pdf):
    """Return the PDF's text with every run of whitespace made one space."""
    return " ".join(pdf_text(pdf).split())


def between(text, start, end=None):
    """Return the part of text after ``start`` and before ``end``."""
    tail = text[text.index(start) + len(start) :]
    return tail[: tail.index(end)] if end else tail


def run_cells(template, labels, data, tmp_path, monkeypatch):
    """Run the template's cells with these labels in this process; return names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data), encoding="utf-8")
    namespace = {"data_file": str(data_file)}
    cells = {
        c.options.get("label"): c
        for c in qmd.parse(template.read_text(encoding="utf-8")).chunks
        if isinstance(c, qmd.Cell)
    }
    for label in labels:
        exec(compile(cells[label].code, f"{template.name}:{label}", "exec"), namespace)
    return namespace


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


def test_typst_compile_is_stopped_at_the_deadline(tmp_path):
    workdirs = tmp_path / "work"
    workdirs.mkdir()
    started = time.monotonic()
    with pytest.raises(RenderTimeout, match="typst"):
        render(
            FIXTURES / "slow_typst.qmd",
            make_report_data(n_items=1),
            timeout_seconds=2,
            workdir_parent=workdirs,
        )
    # Cells and Pandoc take well under a second here; the rest is Typst's.
    assert time.monotonic() - started < 3.5
    assert list(workdirs.iterdir()) == []

    # While that compile finishes in the background, the next report still
    # renders (in a subprocess that a deadline could kill).
    result = render(TEMPLATES / "summary.qmd", make_report_data(n_items=5))
    assert "LSAT-0001" in pdf_text(result.pdf)


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


RENDER_SLOWLY = """
import json, sys
from reports.rendering import render_report
data = json.loads(sys.argv[1])
render_report(sys.argv[2], data, timeout_seconds=300, workdir_parent=sys.argv[3])
"""


def test_folders_of_a_process_killed_mid_render_are_removed_later(tmp_path):
    import signal
    import subprocess
    import sys
    import tempfile

    from reports.rendering import tempdirs

    workdirs = tmp_path / "work"
    workdirs.mkdir()
    pid_file = tmp_path / "child.pid"
    data = make_report_data(n_items=1)
    data["pid_file"] = str(pid_file)
    # A separate process, as a worker's pool process is.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RENDER_SLOWLY,
            json.dumps(data),
            str(FIXTURES / "slow.qmd"),
            str(workdirs),
        ],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert child.poll() is None, "the rendering process ended early"
            assert time.monotonic() < deadline, "the slow cell never started"
            time.sleep(0.1)
        # SIGKILL, as a worker's pool process may get: no finally block runs.
        child.kill()
        child.wait(timeout=10)
        left = [
            path
            for parent in (workdirs, Path(tempfile.gettempdir()))
            for path in parent.glob(tempdirs.PREFIX + "*")
            if tempdirs.owner_pid(path) == child.pid
        ]
        assert len(left) == 2, "a render folder and a kernel folder"

        tempdirs._swept.clear()
        render(
            TEMPLATES / "summary.qmd",
            make_report_data(n_items=1),
            workdir_parent=workdirs,
        )
        assert not any(path.exists() for path in left)
    finally:
        child.kill()
        if pid_file.exists() and pid_file.read_text():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


BOTH = ["comprehensive.qmd", "summary.qmd"]


def test_summary_heading_says_what_the_page_is():
    text = pdf_text(render(TEMPLATES / "summary.qmd", make_report_data()).pdf)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == "Assessment summary"
    # No heading repeats the one before it ("Summary / Summary").
    assert all(a != b for a, b in zip(lines, lines[1:], strict=False))
    assert "Summary\nSummary" not in text


@pytest.mark.parametrize("name", BOTH)
def test_counts_agree_with_their_nouns(name):
    # With this ability only ITEM6 is both easy and answered wrongly.
    data = with_ability(make_report_data(n_items=20), -0.47, 0.24)
    text = flat_text(render(TEMPLATES / name, data).pdf)
    assert "Review ITEM6: this item is well below" in text
    assert "Answered 6 items harder" in text
    assert "3 correct answers had" in text
    assert "(s)" not in text

    text = flat_text(render(TEMPLATES / name, make_report_data(n_items=20)).pdf)
    assert "Review ITEM6, ITEM15: these items are well below" in text
    assert "1 correct answer had" in text


@pytest.mark.parametrize("name", BOTH)
def test_numbers_that_round_to_zero_print_without_a_sign(name):
    # theta + 1.96 SE = -0.000188, a difficulty and a running ability of -0.00x.
    data = with_ability(make_report_data(n_items=20), -0.47, 0.2397)
    data["items"][1]["difficulty"] = -0.001
    data["trajectory"][2]["theta"] = -0.002
    text = flat_text(render(TEMPLATES / name, data).pdf)
    assert "95% interval \u22120.94 to 0.00" in text
    assert "\u22120.00" not in text and "-0.00" not in text
    if name == "comprehensive.qmd":
        assert "2 ITEM2 0.00 Yes" in text
        assert "3 ITEM3 1.15 Yes 0.00" in text


def test_fmt_helper_drops_the_sign_of_zero(tmp_path, monkeypatch):
    ns = run_cells(
        TEMPLATES / "comprehensive.qmd",
        ["load"],
        make_report_data(),
        tmp_path,
        monkeypatch,
    )
    fmt, pct = ns["fmt"], ns["pct"]
    assert [fmt(-0.004), fmt(-0.0), fmt(-0.005001), fmt(None)] == [
        "0.00",
        "0.00",
        "-0.01",
        "\u2013",
    ]
    assert pct(-0.001) == "0%"


@pytest.mark.parametrize("name", BOTH)
def test_legend_sits_above_the_plotted_data(name, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    plt.close("all")
    run_cells(
        TEMPLATES / name,
        ["load", "fig-trajectory"],
        make_report_data(n_items=20),
        tmp_path,
        monkeypatch,
    )
    fig = plt.gcf()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y0 >= ax.get_window_extent(renderer).y1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "95% band",
        "ability",
        "correct",
        "incorrect",
    ]
    plt.close("all")


@pytest.mark.parametrize(
    ("se", "words"),
    [
        (0.29, "precise"),
        (0.3, "moderately precise"),
        (0.49, "moderately precise"),
        (0.5, "imprecise"),
        (0.62, "imprecise"),
        (2.5, "imprecise"),
    ],
)
def test_precision_thresholds(se, words, tmp_path, monkeypatch):
    ns = run_cells(
        TEMPLATES / "summary.qmd",
        ["load"],
        make_report_data(),
        tmp_path,
        monkeypatch,
    )
    assert ns["precision"](se) == words


@pytest.mark.parametrize("name", BOTH)
def test_large_standard_error_is_not_called_precise(name):
    data = with_ability(make_report_data(n_items=20), 0.1, 0.62)
    text = flat_text(render(TEMPLATES / name, data).pdf)
    assert "With a standard error of 0.62 the estimate is imprecise." in text
    assert "The standard error (0.62) is large" in text


@pytest.mark.parametrize("name", BOTH)
def test_items_with_extreme_parameters_are_not_strengths(name):
    data = with_ability(make_report_data(n_items=20), 0.1, 0.25)
    data["items"][2]["difficulty"] = 5.2  # ITEM3, answered correctly
    data["items"][16]["discrimination"] = 6.0  # ITEM17, correct, on the bound
    data["items"][14]["difficulty"] = -4.5  # ITEM15, answered wrongly
    text = flat_text(render(TEMPLATES / name, data).pdf)
    strengths = between(text, "and recommendations Strengths", "Recommendations")
    advice = between(text, "Recommendations", "Note:")
    assert "ITEM3" not in strengths and "ITEM17" not in strengths
    assert "Answered 1 item harder than the current ability estimate correctly" in (
        strengths
    )
    assert "Review ITEM6: this item is" in advice and "ITEM15" not in advice
    assert (
        "Note: 3 items (ITEM3, ITEM15, ITEM17) have extreme calibrated parameters"
        in text
    )


@pytest.mark.parametrize("name", BOTH)
def test_a_perfect_score_gets_sensible_advice(name):
    data = with_ability(with_all_answers(make_report_data(n_items=20), True), 3.2, 0.9)
    text = flat_text(render(TEMPLATES / name, data).pdf)
    assert "100% (20 of 20 correct)" in text
    assert "the estimate is a lower bound" in text
    advice = between(text, "Recommendations")
    assert "Move on to harder items (difficulty above 3.20)" in advice
    assert "Practise with items" not in advice
    assert "Answered all 20 items correctly." in text
    assert "answered incorrectly, which" not in text


@pytest.mark.parametrize("name", BOTH)
def test_a_zero_score_gets_sensible_advice(name):
    data = with_ability(
        with_all_answers(make_report_data(n_items=20), False), -3.1, 0.85
    )
    text = flat_text(render(TEMPLATES / name, data).pdf)
    assert "0% (0 of 20 correct)" in text
    assert "the estimate is an upper bound" in text
    strengths = between(text, "and recommendations Strengths", "Recommendations")
    assert "No particular strength stands out" in strengths
    advice = between(text, "Recommendations")
    assert "Go back to easier material (difficulty below \u22123.10)" in advice
    assert "Practise with items" not in advice
    assert "Overall accuracy is low" not in advice


def test_a_zero_score_without_calibration_gets_sensible_advice():
    data = with_all_answers(make_report_data(n_items=8, calibrated=False), False)
    text = flat_text(render(TEMPLATES / "summary.qmd", data).pdf)
    assert "answered 8 items with low accuracy (0%)" in text
    assert "No item was answered correctly: revisit the basics" in text
