"""A JSON body with a lone surrogate escape is refused, not a 500.

``"\\ud800"`` is valid JSON syntax but names no character: Python's parser
keeps it as a lone surrogate, which cannot be encoded as UTF-8. Any answer
echoing it (a choice field's "is not a valid choice") failed to render.
"""

import pytest

pytestmark = pytest.mark.django_db


def post_raw(api, url, raw):
    return api.generic("POST", url, raw, content_type="application/json")


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        ("/api/v1/calibrations/", b'{"method": "\\ud800"}'),
        ("/api/v1/exports/", b'{"dataset": "\\udfff", "format": "csv"}'),
        ("/api/v1/reports/submit/", b'{"report_type": "x\\ud800"}'),
        ("/api/v1/calibrations/", b'{"\\ud800": 1}'),
        ("/api/v1/calibrations/", b'{"method": ["\\ude00\\ud83d"]}'),
    ],
)
def test_a_lone_surrogate_is_a_400(api, url, raw):
    response = post_raw(api, url, raw)
    assert response.status_code == 400, response.content
    assert "surrogate" in response.json()["detail"]


def test_an_escaped_surrogate_pair_is_a_character_and_accepted(api):
    # U+1F600 written as its UTF-16 pair: one character, valid everywhere.
    response = post_raw(api, "/api/v1/calibrations/", b'{"method": "\\ud83d\\ude00"}')
    assert response.status_code == 400, response.content
    assert "method" in response.json()
