"""/metrics for Prometheus and /health/ for load balancers."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from . import health, metrics


def _bearer_token(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus metrics, for staff sessions or the METRICS_TOKEN bearer."""
    token = _bearer_token(request)
    expected = settings.METRICS_TOKEN
    allowed = bool(
        token and expected and hmac.compare_digest(token.encode(), expected.encode())
    )
    if not allowed and request.user.is_authenticated:
        if not request.user.is_staff:
            return JsonResponse(
                {"detail": "Staff only.", "code": "permission_denied"}, status=403
            )
        allowed = True
    if not allowed:
        response = JsonResponse(
            {"detail": "Authentication required.", "code": "not_authenticated"},
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)


@never_cache
@require_GET
def health_view(request):
    """200 when the database, broker and workers answer, else 503 naming the part.

    Only "ok", "failed" or "skipped" per part: no host names, versions or
    error messages, since anyone may call it.
    """
    checks = health.run_checks()
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
