"""Parse a Quarto ``.qmd`` document into front matter, markdown and cells."""

import re
from dataclasses import dataclass, field

import yaml

from .exceptions import TemplateError

# An executable fence: three or more backticks, then ``{lang ...}``.
_CELL_OPEN = re.compile(r"^(?P<fence>`{3,})\s*\{(?P<lang>[A-Za-z][\w-]*)[^}]*\}\s*$")
# Any other fence (display code): its content is never parsed.
_PLAIN_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})")
_INLINE = re.compile(r"`\{(?P<lang>[A-Za-z][\w-]*)\}\s+(?P<expr>[^`]+?)\s*`")
_SHORTCODE = re.compile(r"\{\{<\s*(?P<name>[\w-]+)(?P<args>[^>]*)>\}\}")


@dataclass
class Cell:
    """One executable code cell."""

    number: int
    line: int
    code: str
    options: dict = field(default_factory=dict)

    @property
    def name(self):
        """Return a name for messages: the label, else the number and line."""
        label = self.options.get("label")
        if label:
            return f"cell {label!r}"
        return f"cell {self.number} (line {self.line})"

    @property
    def tags(self):
        """Return the cell's tags as a list."""
        tags = self.options.get("tags") or []
        return [tags] if isinstance(tags, str) else list(tags)


@dataclass
class Markdown:
    """A run of markdown between cells."""

    line: int
    text: str


@dataclass
class Document:
    """A parsed template."""

    meta: dict
    chunks: list


def split_front_matter(source):
    """Return ``(meta, body, body_first_line)`` for a document's text."""
    lines = source.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, source, 1
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise TemplateError("front matter opened with '---' is never closed")
    try:
        meta = yaml.safe_load("".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise TemplateError(f"front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise TemplateError("front matter must be a YAML mapping")
    return meta, "".join(lines[end + 1 :]), end + 2


def _cell_options(code_lines, number, line):
    """Split leading ``#|`` option comments from a cell's code."""
    option_lines = []
    while code_lines and code_lines[0].lstrip().startswith("#|"):
        option_lines.append(code_lines.pop(0).lstrip()[2:])
    if not option_lines:
        return {}
    try:
        options = yaml.safe_load("".join(option_lines)) or {}
    except yaml.YAMLError as exc:
        raise TemplateError(
            f"cell {number} (line {line}) has invalid '#|' options: {exc}"
        ) from None
    if not isinstance(options, dict):
        raise TemplateError(f"cell {number} (line {line}) options must be 'key: value'")
    return options


def parse(source):
    """Parse a document; raise TemplateError for a feature this parser lacks."""
    meta, body, first_line = split_front_matter(source)
    chunks = []
    text, text_line = [], first_line
    lines = body.splitlines(keepends=True)
    number = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        lineno = first_line + i
        cell_match = _CELL_OPEN.match(line)
        plain_match = None if cell_match else _PLAIN_OPEN.match(line)
        if not cell_match and not plain_match:
            text.append(line)
            i += 1
            continue

        match = cell_match or plain_match
        fence = match.group("fence")
        closing = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = i + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        if end == len(lines):
            raise TemplateError(f"code fence opened at line {lineno} is never closed")
        if plain_match:
            text.extend(lines[i : end + 1])
            i = end + 1
            continue

        lang = cell_match.group("lang").lower()
        if lang != "python":
            raise TemplateError(
                f"{{{lang}}} cell at line {lineno} is not supported: only "
                "{python} cells can run"
            )
        if text:
            chunks.append(Markdown(text_line, "".join(text)))
        number += 1
        code_lines = lines[i + 1 : end]
        options = _cell_options(code_lines, number, lineno)
        chunks.append(Cell(number, lineno, "".join(code_lines), options))
        text, text_line = [], first_line + end + 1
        i = end + 1
    if text:
        chunks.append(Markdown(text_line, "".join(text)))
    return Document(meta, chunks)


def inline_expressions(text):
    """Return the ``(match, expression)`` pairs of inline code in markdown."""
    found = []
    for match in _INLINE.finditer(text):
        lang = match.group("lang").lower()
        if lang != "python":
            raise TemplateError(
                f"inline {{{lang}}} expression {match.group(0)!r} is not supported"
            )
        found.append((match, match.group("expr")))
    return found


def shortcodes(text):
    """Return the shortcode matches in markdown text."""
    return list(_SHORTCODE.finditer(text))
