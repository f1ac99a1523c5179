"""WSGI entry point.

Django loads the URLconf, and with it every view, serializer and most of DRF,
at the first request; the cache and the broker load their client libraries
at their first use. That made a new server process's first submission take
about 300 ms. They are loaded here instead, before the process is handed
any request.
"""

import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dreamseed.settings")
application = get_wsgi_application()

logger = logging.getLogger(__name__)


def warm_up():
    """Load what a request would otherwise load the first time it needs it."""
    from django.conf import settings
    from django.core.cache import caches
    from django.urls import get_resolver

    from dreamseed.celery import app

    resolver = get_resolver()
    loaded = [
        resolver.url_patterns,  # imports the views
        resolver.reverse_dict,  # what reverse() looks names up in
        app.backend,  # the result backend, loaded when a task is first sent
    ]
    # The cache and the broker are reached once, for their client libraries
    # and connection pools; being down now is not this process's problem yet:
    # requests will say so when they need them.
    for alias in settings.CACHES:
        try:
            caches[alias].get("dreamseed:warm-up")
        except Exception as exc:
            logger.warning("cache %r unreachable at start: %s", alias, exc)
    try:
        with app.producer_or_acquire():
            pass
    except Exception as exc:
        logger.warning("broker unreachable at start: %s", exc)
    return loaded


warm_up()
