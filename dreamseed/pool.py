"""The worker's process pool: Celery's prefork pool, with cheap child recycling.

Children are replaced after ``CELERY_WORKER_MAX_TASKS_PER_CHILD`` tasks so
that memory a render or a calibration leaves behind goes back to the system.
With the stock pool each replacement stalled the worker, measured on 2 cores
with no-op jobs:

- The retiring child waits until the parent has read its last result,
  checking every 0.1 s; the parent has almost never read it at the first
  check, so every retirement took at least 0.1 s.
- The parent runs a full garbage collection before each fork. With Django
  and the project loaded, that took 57-73 ms, during which no message was
  handled.
- The parent hears that a child ended when the child's sentinel pipe
  closes, which is a moment before the child can be reaped. When it was not
  yet reapable (10 recycles in 11 in one run), the child was not replaced
  until the pool's next periodic check, up to 5 s later.
- Before replacing it, the parent waited 10 ms for more results from the
  child that had ended.

So in this pool the child checks every millisecond; the parent freezes the
objects it loaded at start-up, so that the collection before a fork scans
only what came after; it waits a moment for an ended child to be reapable
and keeps looking until the child has been replaced; and it reads what an
ended child left without waiting for more. A replacement now stalls the
worker for about 17 ms.

It is the pool of every worker started with the default ``--pool=prefork``
(``CELERY_WORKER_POOL`` in the settings); ``--pool=solo`` or ``threads``
still choose those.
"""

import gc
import logging
import time

from celery.concurrency import asynpool, prefork

logger = logging.getLogger(__name__)

# How often a retiring child checks that its results were read, and for how
# long in all (billiard's own limit: 300 checks of 0.1 s).
RESULTS_READ_CHECK_SECONDS = 0.001
RESULTS_READ_WAIT_SECONDS = 30.0

# After a child's sentinel closes: how often to look for the ended child, and
# how many times before the pool's periodic check is left to find it.
REAP_WAIT_SECONDS = 0.02
REAP_WAIT_STEP_SECONDS = 0.0002
REAP_CHECK_SECONDS = 0.005
REAP_CHECKS = 200


class Worker(asynpool.Worker):
    """A pool child that retires without a 0.1 s sleep."""

    def _ensure_messages_consumed(self, completed):
        counter = self.on_ready_counter
        if not counter:
            return False
        checks = int(RESULTS_READ_WAIT_SECONDS / RESULTS_READ_CHECK_SECONDS)
        for _ in range(checks):
            if counter.value >= completed:
                return True
            time.sleep(RESULTS_READ_CHECK_SECONDS)
        logger.warning(
            "pool child exiting before the parent read all of its %s results",
            completed,
        )
        return False


class AsynPool(asynpool.AsynPool):
    Worker = Worker

    def _event_process_exit(self, hub, proc):
        # The child is past the point of no return; reaping it is a matter
        # of moments, worth a short wait rather than a round of the loop.
        deadline = time.monotonic() + REAP_WAIT_SECONDS
        while proc.exitcode is None and time.monotonic() < deadline:
            time.sleep(REAP_WAIT_STEP_SECONDS)
        super()._event_process_exit(hub, proc)
        self._replace_when_reaped(hub, proc, REAP_CHECKS)

    def process_flush_queues(self, proc):
        """Hand on the results a child sent before it ended.

        Celery's version waits 10 ms for more to arrive, which a child that
        has ended will never send; the parent handled no message meanwhile.
        """
        if proc.exitcode is None:
            return super().process_flush_queues(proc)
        reader = proc.outq._reader
        on_state_change = self._result_handler.on_state_change
        while not reader.closed:
            try:
                if not reader.poll(0):
                    return
                message = reader.recv()
            except (OSError, EOFError):
                return  # a message cut short when the child died: nothing to hand on
            if message is None:
                return
            on_state_change(message)

    def _replace_when_reaped(self, hub, proc, checks_left):
        """Run the pool's upkeep until the ended child ``proc`` is replaced."""
        if proc not in self._pool:
            return
        self.maintain_pool()
        if proc in self._pool and checks_left > 0:
            hub.call_later(
                REAP_CHECK_SECONDS,
                self._replace_when_reaped,
                hub,
                proc,
                checks_left - 1,
            )


class TaskPool(prefork.TaskPool):
    Pool = AsynPool

    def on_start(self):
        # What the parent has loaded by now (Django, the apps, Celery) lives
        # as long as the parent: frozen, the collection before each fork
        # skips it, and children share those pages instead of copying them
        # when a collection would touch them.
        gc.collect()
        gc.freeze()
        super().on_start()
