"""The API's request parser: JSON only, with a size limit that is enforced."""

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser


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
        return super().parse(stream, media_type, parser_context)


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
