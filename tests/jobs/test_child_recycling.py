"""A pool child that has done its share of tasks is replaced at once.

With Celery's stock prefork pool, the parent often looked for the retired
child a moment before it could be reaped and then not again until its
periodic check, 5 s later; meanwhile a worker with one child ran nothing.
"""

from django.db import transaction

from jobs.models import Job
from jobs.services import create_jobs
from tests.conftest import wait_for

TASKS_PER_CHILD = 3
CHILDREN = 4

# Far above a replacement's real cost (about 17 ms here) and far below the
# stock pool's 5 s.
MOST_SECONDS_BETWEEN_CHILDREN = 2.5


def test_a_retired_child_is_replaced_promptly(worker_factory, organisation):
    worker_factory(
        concurrency=1,
        env={"CELERY_WORKER_MAX_TASKS_PER_CHILD": str(TASKS_PER_CHILD)},
    )
    with transaction.atomic():
        jobs = create_jobs(
            organisation=organisation,
            kind=Job.Kind.PROBE,
            params_list=[{}] * (TASKS_PER_CHILD * CHILDREN),
        )
    ids = [job.pk for job in jobs]

    def all_done():
        return not Job.objects.filter(pk__in=ids).exclude(status__in=Job.TERMINAL)

    wait_for(all_done, timeout=120, message="every probe job to end")
    runs = list(
        Job.objects.filter(pk__in=ids)
        .order_by("started_at")
        .values_list("status", "claimed_by", "started_at", "finished_at")
    )
    assert {status for status, *_ in runs} == {Job.Status.SUCCEEDED}
    # One child after another, each running its share.
    claimants = [claimed_by for _, claimed_by, *_ in runs]
    assert len(set(claimants)) == CHILDREN
    for index in range(CHILDREN):
        share = claimants[index * TASKS_PER_CHILD : (index + 1) * TASKS_PER_CHILD]
        assert len(set(share)) == 1
    gaps = [
        (later[2] - earlier[3]).total_seconds()
        for earlier, later in zip(runs, runs[1:], strict=False)
        if earlier[1] != later[1]
    ]
    assert len(gaps) == CHILDREN - 1
    assert max(gaps) < MOST_SECONDS_BETWEEN_CHILDREN, gaps
