"""The API's request parser: JSON only, with a size limit that is enforced."""

import re

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

# No request of this API nests more than three levels. Deeper bodies are
# refused so that nothing after parsing (hashing a body for its
# Idempotency-Key, validation) walks hundreds of levels recursively.
MAX_JSON_DEPTH = 32

# A surrogate left alone after parsing: JSON may write one as an escape
# ("\\ud800"), but it is no character and cannot be encoded as UTF-8, so an
# answer that echoes it (a choice field's error, say) could not be sent.
# An escaped pair is joined into its character by the parser first.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "body_too_large"


class LimitedJSONParser(JSONParser):
    """JSON only, refused unread when larger than DATA_UPLOAD_MAX_MEMORY_SIZE.

    DRF reads the body from the request's stream, which Django does not
    limit (only ``request.body`` is checked): without this a client could
    make the server parse a body of any size.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        data = self._parse_limited(stream, media_type, parser_context)
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(
                f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
            )
        if _holds_lone_surrogate(data):
            raise exceptions.ParseError(
                "JSON parse error - a string holds a lone surrogate "
                "(\\ud800-\\udfff), which is not a character."
            )
        return data

    def _parse_limited(self, stream, media_type, parser_context):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                raise exceptions.ParseError("Content-Length is not a number.")
            if length > limit:
                raise BodyTooLarge()
            stream = _LimitedStream(stream, limit)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json's decoder recurses once per level of nesting.
            raise exceptions.ParseError(
                f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
            )


def _depth_exceeds(data, limit):
    """Whether lists and objects in ``data`` nest deeper than ``limit``.

    Iterative, so the check itself cannot overflow the stack.
    """
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in value)
    return False


def _holds_lone_surrogate(data):
    """Whether a string (or an object's key) in ``data`` holds a lone surrogate."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


class _LimitedStream:
    """Read at most ``limit`` bytes; refuse the body if it holds more."""

    def __init__(self, stream, limit):
        self.stream = stream
        self.limit = limit

    def read(self, size=-1):
        data = self.stream.read(self.limit + 1)
        if len(data) > self.limit:
            raise BodyTooLarge()
        return data
