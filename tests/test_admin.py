"""Staff pages: every model has an admin page, and each one loads."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

OUR_APPS = [
    "assessments",
    "jobs",
    "calibration",
    "reports",
    "notifications",
    "exports",
    "analytics",
]
OUR_MODELS = [m for app in OUR_APPS for m in apps.get_app_config(app).get_models()]


def test_every_model_has_an_admin_page():
    missing = [m._meta.label for m in OUR_MODELS if m not in admin.site._registry]
    assert not missing


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", password="pw-staff")
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    OUR_MODELS
    + [
        apps.get_model("django_celery_beat", "PeriodicTask"),
        apps.get_model("django_celery_results", "TaskResult"),
    ],
    ids=lambda m: m._meta.label,
)
def test_each_changelist_loads_for_staff(staff_client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert staff_client.get(url).status_code == 200


@pytest.mark.django_db
def test_item_characteristic_curve_image(staff_client, organisation):
    from assessments.models import Item
    from calibration.models import CalibrationRun, ItemParameter

    run = CalibrationRun.objects.create(
        organisation=organisation, method="mml", status="succeeded"
    )
    item = Item.objects.create(organisation=organisation, code="Q1")
    parameter = ItemParameter.objects.create(
        run=run, item=item, discrimination=1.2, difficulty=-0.4
    )
    page = staff_client.get(
        reverse("admin:calibration_itemparameter_change", args=[parameter.pk])
    )
    assert page.status_code == 200
    image_url = reverse("admin:calibration_itemparameter_icc", args=[parameter.pk])
    assert image_url.encode() in page.content
    image = staff_client.get(image_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    run_page = staff_client.get(
        reverse("admin:calibration_calibrationrun_change", args=[run.pk])
    )
    assert b"Q1" in run_page.content and b"Previous run: none" in run_page.content


@pytest.mark.django_db
def test_the_admin_is_for_staff_only(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/login/" in response["Location"]
