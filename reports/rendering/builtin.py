"""The builtin engine: run a ``.qmd`` in the warm kernel, then Pandoc and Typst.

Supported, and the same as Quarto unless noted:

* front matter: ``title``, ``subtitle``, ``author``, ``date`` (``today``
  too), ``lang``, ``jupyter: python3``, ``execute:`` defaults, and
  ``format: typst`` (or ``pdf``, also rendered with Typst) with the options
  in ``FORMAT_OPTIONS``; other keys are ignored.
* ``{python}`` cells with ``#|`` options ``echo``, ``eval``, ``include``,
  ``output`` (true/false/asis), ``warning``, ``error``, ``label``,
  ``fig-cap``, ``fig-alt`` and ``tags`` (``parameters``).
  Differences: ``echo`` and ``warning`` default to false, because these are
  reports, not notebooks.
* inline ``{python}`` expressions, evaluated in document order.
* the ``{{< pagebreak >}}`` shortcode.

Anything that would change the result and cannot be done here (other
languages, knitr, Lua filters, other shortcodes, other formats) raises
TemplateError naming it.
"""

import ast
import base64
import ctypes
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pypandoc
import typst
import yaml

from . import kernel as kernels
from . import qmd
from .exceptions import RenderError, RenderTimeout, TemplateError

logger = logging.getLogger(__name__)

FORMAT_OPTIONS = {
    "papersize",
    "margin",
    "fontsize",
    "mainfont",
    "columns",
    "toc",
    "toc-depth",
    "section-numbering",
    "page-numbering",
    "lang",
    "linestretch",
}
CELL_DEFAULTS = {
    "echo": False,
    "eval": True,
    "include": True,
    "output": True,
    "warning": False,
    "error": False,
}
UNSUPPORTED_KEYS = {
    "filters": "Lua filters",
    "knitr": "knitr options",
    "bibliography": "citations",
    "crossref": "cross-reference options",
}
HEADER_TYP = Path(__file__).with_name("report_header.typ")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_fonts = None


def check_document(document):
    """Raise TemplateError for a feature this engine does not support."""
    meta = document.meta
    engine = meta.get("engine")
    if engine is not None and str(engine).lower() != "jupyter":
        raise TemplateError(f"engine: {engine} is not supported, only jupyter")
    jupyter = meta.get("jupyter")
    if isinstance(jupyter, dict):
        jupyter = (jupyter.get("kernelspec") or {}).get("name")
    if jupyter is not None and not str(jupyter).lower().startswith("python"):
        raise TemplateError(f"jupyter: {jupyter} is not supported, only python3")
    for key, feature in UNSUPPORTED_KEYS.items():
        if key in meta:
            raise TemplateError(f"{feature} ({key}:) are not supported")
    format_options(meta)
    for chunk in document.chunks:
        if isinstance(chunk, qmd.Markdown):
            qmd.inline_expressions(chunk.text)
            for match in qmd.shortcodes(chunk.text):
                if match.group("name") != "pagebreak":
                    raise TemplateError(
                        f"shortcode {match.group(0)!r} (near line {chunk.line}) "
                        "is not supported"
                    )


def format_options(meta):
    """Return the supported options of the document's typst or pdf format."""
    fmt = meta.get("format", "typst")
    if isinstance(fmt, str):
        fmt = {fmt: {}}
    if not isinstance(fmt, dict):
        raise TemplateError(f"format: {fmt!r} is not understood")
    for name in ("typst", "pdf"):
        if name in fmt:
            options = fmt[name]
            if options in (None, "default"):
                options = {}
            if not isinstance(options, dict):
                raise TemplateError(f"format: {name}: must be a mapping")
            return {k: v for k, v in options.items() if k in FORMAT_OPTIONS}
    raise TemplateError(
        f"format {', '.join(map(str, fmt))} is not supported: use typst or pdf"
    )


def cell_defaults(meta):
    """Return the cell option defaults after the document's ``execute:``."""
    defaults = dict(CELL_DEFAULTS)
    for key in CELL_DEFAULTS:
        if key in meta:
            defaults[key] = meta[key]
    defaults.update(meta.get("execute") or {})
    return defaults


def run_document(document, workdir, params, deadline, checkpoint):
    """Execute the cells in the warm kernel and return the report markdown.

    ``checkpoint()`` runs before each chunk; what it raises stops the render
    with the kernel idle, and the kernel is reset for the next report.
    """
    defaults = cell_defaults(document.meta)
    cells = [c for c in document.chunks if isinstance(c, qmd.Cell)]
    tagged = [c for c in cells if "parameters" in c.tags]
    params_after = tagged[0] if tagged else None
    params_code = "\n".join(f"{name} = {value!r}" for name, value in params.items())

    with kernels.lock:
        kernel = kernels.acquire(deadline)
        try:
            # A reset costs about 0.08 s (IPython collects garbage); the kernel
            # is already clean unless the previous report's reset was skipped.
            if not kernel.clean:
                kernel.reset(deadline)
            kernel.clean = False
            kernel.chdir(workdir, deadline)
            kernel.reports += 1
            if params_after is None and params_code:
                _run_params(kernel, params_code, deadline)
            parts = []
            for chunk in document.chunks:
                checkpoint()
                if isinstance(chunk, qmd.Markdown):
                    parts.append(_markdown(kernel, chunk, deadline))
                    continue
                parts.append(_cell(kernel, chunk, defaults, workdir, deadline))
                if chunk is params_after and params_code:
                    _run_params(kernel, params_code, deadline)
        except RenderTimeout:
            logger.warning("Report kernel pid=%s timed out; killing it", kernel.pid)
            kernels.discard()
            raise
        except RenderError as exc:
            if not kernel.is_alive() or not isinstance(exc, TemplateError):
                kernels.discard()
            raise
        finally:
            if kernels.current() is kernel:
                _reset_after(kernel)
    return "\n\n".join(p for p in parts if p)


def _reset_after(kernel):
    """Clear the report from the kernel at once; kill the kernel if that fails."""
    try:
        kernel.reset(time.monotonic() + 10)
    except RenderError:
        logger.warning("Report kernel pid=%s failed to reset; killing it", kernel.pid)
        kernels.discard()


def _run_params(kernel, code, deadline):
    result = kernel.execute(code, deadline)
    if result.error:
        raise TemplateError(f"parameters could not be set: {result.error['evalue']}")


def _markdown(kernel, chunk, deadline):
    """Substitute inline expressions and shortcodes in a markdown chunk."""
    text = chunk.text
    found = qmd.inline_expressions(text)
    if found:
        exprs = {f"e{i}": expr for i, (_, expr) in enumerate(found)}
        result = kernel.execute("", deadline, user_expressions=exprs)
        values = result.reply.get("user_expressions", {})
        pieces, pos = [], 0
        for i, (match, expr) in enumerate(found):
            value = values.get(f"e{i}", {})
            if value.get("status") != "ok":
                raise TemplateError(
                    f"inline expression {expr!r} (near line {chunk.line}) raised "
                    f"{value.get('ename')}: {value.get('evalue')}"
                )
            pieces.append(text[pos : match.start()])
            pieces.append(_inline_value(value.get("data", {})))
            pos = match.end()
        pieces.append(text[pos:])
        text = "".join(pieces)
    for match in reversed(qmd.shortcodes(text)):
        text = (
            text[: match.start()]
            + "\n```{=typst}\n#pagebreak()\n```\n"
            + text[match.end() :]
        )
    return text.strip("\n")


def _inline_value(data):
    """Return the markdown for an inline expression's value."""
    if "text/markdown" in data:
        return data["text/markdown"]
    plain = data.get("text/plain", "")
    # A string's repr is quoted; the document wants the text itself.
    if len(plain) >= 2 and plain[0] == plain[-1] and plain[0] in "'\"":
        try:
            return str(ast.literal_eval(plain))
        except (ValueError, SyntaxError):
            pass
    return plain


def _cell(kernel, cell, defaults, workdir, deadline):
    """Run one cell and return its markdown."""
    options = {**defaults, **cell.options}
    parts = []
    if options["echo"]:
        parts.append(_fenced(cell.code.rstrip("\n"), "python"))
    if options["eval"]:
        result = kernel.execute(cell.code, deadline)
        error = result.error
        if error and not options["error"]:
            raise TemplateError(
                f"{cell.name} raised {error['ename']}: {error['evalue']}"
            )
        if options["output"] is not False:
            parts.extend(_outputs(result.outputs, cell, options, workdir))
    if not options["include"]:
        return ""
    return "\n\n".join(parts)


def _outputs(outputs, cell, options, workdir):
    """Convert kernel outputs to markdown."""
    asis = options["output"] == "asis"
    captions = options.get("fig-cap")
    if not isinstance(captions, list):
        captions = [captions]
    label = options.get("label") or ""
    parts, stream, figures = [], [], 0

    def flush():
        if stream:
            text = "".join(stream)
            parts.append(text if asis else _fenced(text.rstrip("\n")))
            stream.clear()

    for out in outputs:
        kind = out["output_type"]
        if kind == "stream":
            if out["name"] == "stdout" or options["warning"]:
                stream.append(out["text"])
            continue
        flush()
        if kind == "error":
            parts.append(_fenced(_ANSI.sub("", "\n".join(out["traceback"]))))
            continue
        data = out.get("data", {})
        if "image/png" in data:
            figures += 1
            name = f"figure-{cell.number}-{figures}.png"
            (Path(workdir) / name).write_bytes(base64.b64decode(data["image/png"]))
            caption = captions[min(figures, len(captions)) - 1] or ""
            attrs = ['width="100%"']
            if label.startswith("fig-"):
                suffix = "" if figures == 1 else f"-{figures}"
                attrs.insert(0, f"#{label}{suffix}")
            alt = options.get("fig-alt")
            if alt:
                attrs.append(f'fig-alt="{alt}"')
            parts.append(f"![{caption}]({name}){{{' '.join(attrs)}}}")
        elif "text/markdown" in data:
            parts.append(data["text/markdown"])
        elif "text/plain" in data:
            text = data["text/plain"]
            parts.append(text if asis else _fenced(text))
    flush()
    return parts


def _fenced(text, lang=""):
    """Return text as a fenced code block that its own backticks cannot close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def pandoc_metadata(meta):
    """Return the Pandoc metadata for the document's title block and page."""
    out = {k: meta[k] for k in ("title", "subtitle", "author", "lang") if k in meta}
    date = meta.get("date")
    if date is not None:
        if str(date) in ("today", "now", "last-modified"):
            date = time.strftime("%Y-%m-%d")
        out["date"] = str(date)
    out["page-numbering"] = "1"
    out.update(format_options(meta))
    for key in ("fontsize", "linestretch"):
        if key in out:
            out[key] = str(out[key])
    return out


def to_typst(markdown, meta, workdir, deadline):
    """Convert the report markdown to a standalone Typst file with Pandoc."""
    workdir = Path(workdir)
    (workdir / "report.md").write_text(markdown, encoding="utf-8")
    (workdir / "metadata.yml").write_text(
        yaml.safe_dump(pandoc_metadata(meta), allow_unicode=True), encoding="utf-8"
    )
    command = [
        pypandoc.get_pandoc_path(),
        "report.md",
        "--from=markdown",
        "--to=typst",
        "--standalone",
        "--metadata-file=metadata.yml",
        f"--include-in-header={HEADER_TYP}",
        "--output=report.typ",
    ]
    run_command(command, workdir, deadline, "pandoc")
    return workdir / "report.typ"


def run_command(command, cwd, deadline, what):
    """Run a command in its own process group; kill the group at the deadline."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise RenderTimeout("the render exceeded its time limit")
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
        kernels.kill_tree(process.pid)
        process.communicate()
        raise RenderTimeout(f"{what} exceeded the render's time limit") from None
    except BaseException:
        kernels.kill_tree(process.pid)
        process.wait()
        raise
    if process.returncode != 0:
        message = stderr.decode("utf-8", "replace").strip()[-2000:]
        raise TemplateError(f"{what} failed (exit {process.returncode}): {message}")
    return stdout


# Typst's thread pool does not survive fork: a child of a process that has
# compiled once hangs on its first compile. Such a child compiles in a
# subprocess instead (about 0.2 s slower, and killed at the deadline).
_typst_pid = None
_TYPST_SUBPROCESS = (
    "import sys, typst; "
    "pdf = typst.compile(sys.argv[1], root=sys.argv[2], "
    "font_paths=typst.Fonts(include_system_fonts=False), ignore_system_fonts=True); "
    "open(sys.argv[3], 'wb').write(pdf)"
)


def compile_typst(typ_path, deadline):
    """Compile the Typst file to PDF bytes with the fonts bundled in typst."""
    global _fonts, _typst_pid
    if time.monotonic() >= deadline:
        raise RenderTimeout("the render exceeded its time limit")
    typ_path = Path(typ_path)
    root = typ_path.parent
    forked = _typst_pid not in (None, os.getpid())
    if forked or _overrunning():
        pdf_path = root / "report.pdf"
        command = [sys.executable, "-c", _TYPST_SUBPROCESS, str(typ_path), str(root)]
        run_command([*command, str(pdf_path)], root, deadline, "typst")
        return pdf_path.read_bytes()

    _typst_pid = os.getpid()
    if _fonts is None:
        # Bundled fonts only: the same PDF on every machine, and no font scan.
        _fonts = typst.Fonts(include_system_fonts=False)
    outcome = {}

    def work():
        try:
            outcome["pdf"] = typst.compile(
                os.fspath(typ_path),
                root=os.fspath(root),
                font_paths=_fonts,
                ignore_system_fonts=True,
            )
        except BaseException as exc:  # noqa: BLE001  re-raised by the caller
            outcome["error"] = exc
        finally:
            _release_memory()

    # typst releases the GIL while it compiles, so this thread can give up
    # at the deadline. A compile cannot be stopped part-way: an overrunning
    # one finishes in the background and its result is dropped, and until it
    # has, compiles here go to a subprocess that can be killed.
    thread = threading.Thread(target=work, name="typst-compile", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        _overrun.append(thread)
        logger.warning("Typst compile overran the render's time limit")
        raise RenderTimeout("typst exceeded the render's time limit")
    error = outcome.get("error")
    if isinstance(error, typst.TypstError):
        raise TemplateError(f"typst could not compile the report: {error}")
    if error is not None:
        raise error
    return outcome["pdf"]


# Compiles that passed their deadline and are still running in this process.
_overrun = []


def _overrunning():
    """Return whether a compile that passed its deadline still runs here."""
    _overrun[:] = [t for t in _overrun if t.is_alive()]
    return bool(_overrun)


try:
    _malloc_trim = ctypes.CDLL(None).malloc_trim
except (AttributeError, OSError):  # not glibc
    _malloc_trim = None


def _release_memory():
    """Return memory freed by a Typst compile to the system.

    Typst allocates from several threads; glibc keeps what they free in
    per-thread arenas, so without a trim the worker grew from about 75 MB to
    about 125 MB over its first ten reports and stayed there.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


def render(template_path, workdir, params, deadline, checkpoint):
    """Render a template with the builtin engine and return PDF bytes."""
    source = Path(template_path).read_text(encoding="utf-8")
    document = qmd.parse(source)
    check_document(document)
    markdown = run_document(document, workdir, params, deadline, checkpoint)
    checkpoint()
    typ_path = to_typst(markdown, document.meta, workdir, deadline)
    checkpoint()
    return compile_typst(typ_path, deadline)
