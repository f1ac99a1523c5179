"""The .qmd parser."""

from pathlib import Path

import pytest

from reports.rendering import TemplateError, builtin, qmd

SOURCE = """---
title: T
format:
  typst:
    papersize: a4
    keep-typ: true
---

Intro `{python} x`.

```python
# display code, never run: ```{python} inside is text
```

```{python}
#| label: first
#| tags: [parameters]
#| output: asis
x = 1
```
"""


def test_parse_front_matter_cells_and_options():
    document = qmd.parse(SOURCE)
    assert document.meta["title"] == "T"
    kinds = [type(c).__name__ for c in document.chunks]
    assert kinds == ["Markdown", "Cell"]
    cell = document.chunks[1]
    assert cell.options == {"label": "first", "tags": ["parameters"], "output": "asis"}
    assert cell.code == "x = 1\n"
    assert cell.tags == ["parameters"]
    assert cell.name == "cell 'first'"
    assert "```python" in document.chunks[0].text


def test_format_options_keep_supported_keys():
    assert builtin.format_options(qmd.parse(SOURCE).meta) == {"papersize": "a4"}


def test_other_formats_are_refused():
    with pytest.raises(TemplateError, match="html"):
        builtin.format_options({"format": "html"})


@pytest.mark.parametrize(
    ("source", "feature"),
    [
        ("```{ojs}\nx = 1\n```\n", r"\{ojs\} cell"),
        ("Value `{r} 1 + 1`.\n", r"inline \{r\}"),
        ("{{< include other.qmd >}}\n", "shortcode"),
        ("---\nfilters: [a.lua]\n---\n", "Lua filters"),
        ("---\njupyter: julia-1.10\n---\n", "julia"),
    ],
)
def test_unsupported_features_are_named(source, feature):
    with pytest.raises(TemplateError, match=feature):
        builtin.check_document(qmd.parse(source))


def test_unclosed_fence_is_reported():
    with pytest.raises(TemplateError, match="never closed"):
        qmd.parse("```{python}\nx = 1\n")


def test_shipped_templates_share_their_helpers_and_prose():
    """The summary repeats the comprehensive report's logic: keep them equal."""
    root = Path(__file__).resolve().parents[2] / "templates" / "reports"

    def cells(name):
        document = qmd.parse((root / name).read_text(encoding="utf-8"))
        return [c.code for c in document.chunks if isinstance(c, qmd.Cell)]

    comprehensive, summary = cells("comprehensive.qmd"), cells("summary.qmd")
    # Parameters, load, key figures, overview (the figures differ in size).
    assert summary[:4] == comprehensive[:4]
    assert summary[-1] == comprehensive[-1]
