"""The per-user submission throttle: a sliding period, counted in windows."""

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from jobs.views import SubmissionThrottle


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def throttle_at(user):
    """Return a function that asks a fresh throttle at a given time."""
    cache.clear()
    request = APIRequestFactory().post("/api/v1/reports/submit/")
    request.user = user
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "submissions": "3/minute"}
    settings = {**api_settings.user_settings, "DEFAULT_THROTTLE_RATES": rates}

    def ask(now):
        with override_settings(REST_FRAMEWORK=settings):
            throttle = SubmissionThrottle()
            throttle.timer = Clock(now)
            return throttle.allow_request(request, None), throttle.wait()

    yield ask
    cache.clear()


@pytest.mark.django_db
def test_the_limit_holds_within_a_window(throttle_at):
    # 6000 is the start of a minute.
    assert [throttle_at(6000 + t)[0] for t in (1, 2, 3, 4)] == [
        True,
        True,
        True,
        False,
    ]
    allowed, wait = throttle_at(6010)
    assert not allowed
    # Its three requests weigh three until this window ends, 50 s later.
    assert wait == pytest.approx(50)
    assert not throttle_at(6059)[0]
    assert throttle_at(6061)[0]


@pytest.mark.django_db
def test_the_previous_window_counts_by_its_overlap(throttle_at):
    for t in (50, 55, 59):
        assert throttle_at(6000 + t)[0]
    # 10 s into the next minute, 5/6 of the previous one still overlaps:
    # 2.5 requests, so one more is allowed and then none.
    assert throttle_at(6070)[0]
    allowed, wait = throttle_at(6071)
    assert not allowed
    # The old window must weigh less than 2, a third of the way in: 6080.
    assert wait == pytest.approx(6080 - 6071)
    assert not throttle_at(6079)[0]
    assert throttle_at(6081)[0]


@pytest.mark.django_db
def test_the_state_is_a_count_whatever_the_rate(throttle_at, user):
    for t in range(3):
        throttle_at(6000 + t)
    key = f"throttle_submissions_{user.pk}:100"
    assert cache.get(key) == 3


@pytest.mark.django_db
def test_a_throttled_submission_says_when_to_retry(api, student, assessment):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "submissions": "1/hour"}
    body = {"student": str(student.pk), "assessment": str(assessment.pk)}
    with override_settings(
        REST_FRAMEWORK={**api_settings.user_settings, "DEFAULT_THROTTLE_RATES": rates}
    ):
        cache.clear()
        assert api.post("/api/v1/reports/submit/", body, format="json").status_code
        response = api.post("/api/v1/reports/submit/", body, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 7200
