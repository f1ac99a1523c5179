"""Idempotency-Key: text that happens to spell a UUID is compared as sent.

Only fields that name objects take an id in any of its spellings; in a
subject or a body, capitals, dashes and braces are what the client wrote.
"""

import pytest

URL = "/api/v1/notifications/bulk/"


@pytest.fixture
def mailable(user):
    # Bulk mail is for administrators; the teacher becomes one, with an address.
    user.email = "teacher@example.org"
    user.save(update_fields=["email"])
    user.membership.role = "admin"
    user.membership.save(update_fields=["role"])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("0123456789abcdef0123456789abcdef", "01234567-89ab-cdef-0123-456789abcdef"),
        (
            "01234567-89AB-CDEF-0123-456789ABCDEF",
            "01234567-89ab-cdef-0123-456789abcdef",
        ),
        (
            "{01234567-89ab-cdef-0123-456789abcdef}",
            "01234567-89ab-cdef-0123-456789abcdef",
        ),
    ],
)
@pytest.mark.parametrize("field", ["subject", "body"])
def test_another_text_under_the_same_key_is_refused(
    api, mailable, field, first, second
):
    def submit(text):
        data = {"subject": "Code", "body": "Your code:", "audience": "admins"}
        data[field] = text
        return api.post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY="mail-1")

    assert submit(first).status_code == 202
    again = submit(second)
    assert again.status_code == 422, again.json()
    assert again.json()["code"] == "idempotency_key_reused"
    assert submit(first).status_code == 200
