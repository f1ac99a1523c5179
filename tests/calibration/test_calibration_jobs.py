"""Calibration as a job: through a real worker, against PostgreSQL and Redis."""

import os

import pytest
from django.db import transaction

from assessments.lsat7 import load_lsat7_organisation
from assessments.models import Item
from calibration.exceptions import CalibrationLocked
from calibration.models import CalibrationRun, ItemParameter
from calibration.services import current_run, read_responses, run_calibration
from jobs.models import Job
from jobs.services import create_job
from tests.conftest import make_user, wait_for_job

# R mirt 1.40, 2PL by marginal maximum likelihood on LSAT-7.
MIRT_A = [0.988, 1.081, 1.707, 0.765, 0.736]
MIRT_B = [-1.879, -0.748, -1.057, -0.635, -2.521]
MIRT_LOGLIK = -2658.805

# Bock and Lieberman's table: frequencies of patterns 00000 ... 11111.
LSAT7_FREQUENCIES = [
    12, 19, 1, 7, 3, 19, 3, 17, 10, 5, 3, 7, 7, 23, 8, 28,
    7, 39, 11, 34, 14, 51, 15, 90, 6, 25, 7, 35, 18, 136, 32, 308,
]  # fmt: skip


def lsat7_correct_per_item():
    return [
        sum(f for pattern, f in enumerate(LSAT7_FREQUENCIES) if pattern >> (4 - j) & 1)
        for j in range(5)
    ]


@pytest.fixture
def lsat7(transactional_db):
    organisation, assessment, _ = load_lsat7_organisation()
    return organisation


def calibration_job(organisation, **params):
    with transaction.atomic():
        return create_job(
            organisation=organisation,
            kind=Job.Kind.CALIBRATION,
            params={"method": "mml", "max_iter": 500, "tol": 1e-5, **params},
        )


def parameters(run):
    rows = ItemParameter.objects.filter(run=run).select_related("item")
    return {p.item.code: p for p in rows}


def test_reading_responses_gives_index_triplets(lsat7):
    students, items, person, item, correct = read_responses(lsat7)
    assert (len(students), len(items), len(correct)) == (1000, 5, 5000)
    assert person.min() == 0 and person.max() == 999
    assert item.min() == 0 and item.max() == 4
    per_item = [int(correct[item == j].sum()) for j in range(5)]
    expected = lsat7_correct_per_item()
    item_codes = list(
        Item.objects.filter(pk__in=items).order_by("pk").values_list("code", flat=True)
    )
    assert {code: per_item[j] for j, code in enumerate(item_codes)} == {
        f"ITEM{j + 1}": expected[j] for j in range(5)
    }


@pytest.mark.integration
def test_mml_calibration_through_a_worker_matches_mirt(lsat7, worker, api):
    job = calibration_job(lsat7)
    job = wait_for_job(job.pk, timeout=120)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress_percent == 100

    run = CalibrationRun.objects.get(pk=job.result["calibration_run"])
    assert run.status == CalibrationRun.Status.SUCCEEDED
    assert (run.n_persons, run.n_items, run.n_responses) == (1000, 5, 5000)
    assert run.converged is True
    assert run.log_likelihood == pytest.approx(MIRT_LOGLIK, abs=0.01)
    found = parameters(run)
    for j in range(5):
        p = found[f"ITEM{j + 1}"]
        assert p.discrimination == pytest.approx(MIRT_A[j], abs=0.005)
        assert p.difficulty == pytest.approx(MIRT_B[j], abs=0.005)
        assert p.guessing == 0.0
        assert p.se_discrimination > 0 and p.se_difficulty > 0
    assert run.abilities.count() == 1000


@pytest.mark.integration
def test_jmle_on_five_items_is_refused_with_the_reason(lsat7, worker):
    """LSAT-7's 2PL joint likelihood has no finite maximum: say so, keep the old."""
    first = wait_for_job(calibration_job(lsat7).pk, timeout=120)
    assert first.status == Job.Status.SUCCEEDED, first.error

    job = wait_for_job(calibration_job(lsat7, method="jmle").pk, timeout=120)
    assert job.status == Job.Status.FAILED
    assert job.attempts == 1, "a property of the data is not retried"
    assert job.error_code == "calibration_not_converged"
    assert "no finite maximum" in job.error and "'mml'" in job.error
    run = CalibrationRun.objects.get(job=job)
    assert run.status == CalibrationRun.Status.FAILED and run.converged is False
    assert current_run(lsat7).job_id == first.pk
    # The estimates kept for inspection are reachable from the job.
    assert job.result["calibration_run"] == str(run.pk)


def simulated_bank(n_persons=1000, n_items=20, seed=7):
    """An organisation whose persons each answer every one of 20 items (2PL).

    Discriminations are spread from 0.5 to 2.0 so that recovering their order
    is a real test, not drowned by sampling error.
    """
    from datetime import UTC, datetime

    import numpy as np

    from assessments.models import Assessment, Organisation, Response, Student

    rng = np.random.default_rng(seed)
    a = rng.permutation(np.linspace(0.5, 2.0, n_items))
    b = np.linspace(-1.5, 1.5, n_items)
    theta = rng.normal(0, 1, n_persons)
    p = 1 / (1 + np.exp(-a * (theta[:, None] - b)))
    answers = rng.random((n_persons, n_items)) < p
    organisation = Organisation.objects.create(name="Simulated", slug="simulated")
    assessment = Assessment.objects.create(
        organisation=organisation, code="SIM", name="Simulated test"
    )
    items = Item.objects.bulk_create(
        Item(organisation=organisation, code=f"Q{j:02d}") for j in range(n_items)
    )
    students = Student.objects.bulk_create(
        Student(organisation=organisation, external_id=f"S{i:04d}")
        for i in range(n_persons)
    )
    when = datetime(2026, 1, 5, tzinfo=UTC)
    Response.objects.bulk_create(
        Response(
            organisation=organisation,
            student=students[i],
            assessment=assessment,
            item=items[j],
            correct=bool(answers[i, j]),
            answered_at=when,
            position=j + 1,
        )
        for i in range(n_persons)
        for j in range(n_items)
    )
    return organisation, dict(
        zip([f"Q{j:02d}" for j in range(n_items)], a, strict=True)
    )


@pytest.mark.integration
def test_jmle_calibration_through_a_worker_on_twenty_items(transactional_db, worker):
    import numpy as np

    organisation, true_a = simulated_bank()
    job = wait_for_job(calibration_job(organisation, method="jmle").pk, timeout=120)
    assert job.status == Job.Status.SUCCEEDED, job.error
    run = CalibrationRun.objects.get(pk=job.result["calibration_run"])
    assert (run.method, run.converged, run.n_responses) == ("jmle", True, 20000)
    found = parameters(run)
    estimated = np.array([found[code].discrimination for code in true_a])
    truth = np.array(list(true_a.values()))
    # JMLE overestimates discriminations with 20 items per person (documented);
    # the estimates must still track the truth.
    assert np.corrcoef(estimated, truth)[0, 1] > 0.9
    assert np.all((estimated > 0.3) & (estimated < 3.5))


def test_a_failed_run_leaves_the_previous_parameters_in_force(lsat7):
    first = calibration_job(lsat7)
    run_calibration(first)
    before = {
        code: p.discrimination for code, p in parameters(current_run(lsat7)).items()
    }

    second = calibration_job(lsat7)

    def fail_while_storing(percent, step=None):
        if step == "storing":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        run_calibration(second, progress=fail_while_storing)
    failed = CalibrationRun.objects.get(job=second)
    assert failed.status == CalibrationRun.Status.FAILED
    assert "disk full" in failed.error
    assert not failed.items.exists()
    assert current_run(lsat7).job_id == first.pk
    after = {
        code: p.discrimination for code, p in parameters(current_run(lsat7)).items()
    }
    assert after == before


def test_a_calibration_that_did_not_converge_is_not_put_in_force(lsat7):
    from calibration.exceptions import CalibrationNotConverged

    first = calibration_job(lsat7)
    run_calibration(first)
    stopped_early = calibration_job(lsat7, max_iter=2)
    with pytest.raises(
        CalibrationNotConverged, match="did not converge in 2 iterations"
    ):
        run_calibration(stopped_early)
    run = CalibrationRun.objects.get(job=stopped_early)
    assert run.status == CalibrationRun.Status.FAILED
    assert run.converged is False
    assert run.items.count() == 5, "estimates are kept for inspection"
    assert "not used" in run.error
    assert current_run(lsat7).job_id == first.pk


def test_a_second_calibration_of_the_same_organisation_is_refused(lsat7):
    from django.utils import timezone

    running = calibration_job(lsat7)
    Job.objects.filter(pk=running.pk).update(
        status=Job.Status.RUNNING,
        lease_expires_at=timezone.now() + timezone.timedelta(minutes=5),
    )
    with pytest.raises(CalibrationLocked, match=str(running.pk)):
        run_calibration(calibration_job(lsat7))


def test_running_the_same_job_twice_replaces_its_run(lsat7):
    job = calibration_job(lsat7)
    run_calibration(job)
    run_calibration(job)
    assert CalibrationRun.objects.filter(job=job).count() == 1
    assert ItemParameter.objects.filter(run__job=job).count() == 5


@pytest.mark.integration
def test_calibration_submitted_through_the_api(lsat7, worker):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    user = make_user(lsat7, "psychometrician")
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}"
    )
    response = client.post(
        "/api/v1/calibrations/", {"method": "mml", "priority": 7}, format="json"
    )
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["id"], timeout=120)
    assert job.status == Job.Status.SUCCEEDED, job.error
    detail = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert detail["status"] == "succeeded"
    run_url = detail["links"]["calibration_run"]
    run = client.get(run_url).json()
    assert {i["item"] for i in run["items"]} == {f"ITEM{j}" for j in range(1, 6)}


@pytest.mark.integration
def test_the_demo_with_jmle_says_why_and_names_the_kept_run(worker):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as error:
        call_command("demo", method="jmle", stdout=open(os.devnull, "w"))
    run = CalibrationRun.objects.get(method="jmle")
    message = str(error.value)
    assert message.startswith("Calibration failed: The jmle calibration has no ")
    assert message.endswith(
        f"The run is {run.pk}: GET /api/v1/calibrations/{run.pk}/ or the admin's "
        "Calibration runs page shows it."
    )


def test_a_calibration_refreshes_statistics_left_stale_by_a_bulk_load(
    transactional_db,
):
    from django.db import connection

    from assessments.models import Response
    from tests.conftest import wait_for

    organisation, _ = simulated_bank(n_persons=1000, n_items=20)
    table = Response._meta.db_table

    def statistics():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.reltuples, s.n_mod_since_analyze FROM pg_class c "
                "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = %s",
                [table],
            )
            return cursor.fetchone()

    # The server counts the changes a moment after they commit.
    wait_for(lambda: statistics()[1] >= 20000, timeout=10, message="the counts")
    assert statistics()[0] != 20000
    read_responses(organisation)
    assert statistics()[0] == 20000
