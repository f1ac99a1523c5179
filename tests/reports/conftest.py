"""Shared helpers for the report renderer tests."""

import io
from pathlib import Path

import pypdf
import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates" / "reports"
FIXTURES = Path(__file__).with_name("fixtures")


def pdf_text(pdf):
    """Return the text of every page of a PDF, joined."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_pages(pdf):
    """Return the number of pages of a PDF."""
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def pdf_image_count(pdf):
    """Return how many image XObjects the PDF's pages draw."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    count = 0
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        xobjects = resources.get("/XObject") or {}
        for ref in xobjects.values():
            if ref.get_object().get("/Subtype") == "/Image":
                count += 1
    return count


@pytest.fixture(scope="session", autouse=True)
def _stop_kernel():
    yield
    from reports.rendering import shutdown

    shutdown()
