"""Load the LSAT-7 data set as one organisation's students, items and responses."""

from datetime import UTC, datetime, timedelta

from django.db import transaction

from calibration.irt.datasets import load_lsat7

from .models import Assessment, Item, Organisation, Response, Student

ORG_SLUG = "lsat7-demo"


@transaction.atomic
def load_lsat7_organisation():
    """Create (once) the demo organisation with the 1,000 LSAT-7 examinees.

    Returns ``(organisation, assessment, created)``.
    """
    organisation, created = Organisation.objects.get_or_create(
        slug=ORG_SLUG, defaults={"name": "Law School (LSAT-7 sample)"}
    )
    assessment, _ = Assessment.objects.get_or_create(
        organisation=organisation,
        code="LSAT7",
        defaults={"name": "LSAT Section 7 (Bock and Lieberman, 1970)"},
    )
    if Response.objects.filter(organisation=organisation).exists():
        return organisation, assessment, False

    responses = load_lsat7()  # (n_persons, n_items) of 0/1
    n_persons, n_items = responses.shape
    items = Item.objects.bulk_create(
        Item(
            organisation=organisation, code=f"ITEM{j + 1}", text=f"LSAT-7 item {j + 1}"
        )
        for j in range(n_items)
    )
    students = Student.objects.bulk_create(
        Student(
            organisation=organisation,
            external_id=f"LSAT-{i + 1:04d}",
            name=f"Examinee {i + 1:04d}",
        )
        for i in range(n_persons)
    )
    start = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    Response.objects.bulk_create(
        (
            Response(
                organisation=organisation,
                student=students[i],
                assessment=assessment,
                item=items[j],
                correct=bool(responses[i, j]),
                answered_at=start + timedelta(minutes=2 * j),
                position=j + 1,
            )
            for i in range(n_persons)
            for j in range(n_items)
        ),
        batch_size=2000,
    )
    return organisation, assessment, True
