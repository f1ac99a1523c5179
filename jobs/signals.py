"""Signals sent when a job ends or is put back in the queue."""

from django.dispatch import Signal

# Sent with ``job`` after a job's outcome is saved.
job_finished = Signal()
job_succeeded = Signal()
# Sent with ``job`` when a failed or cancelled job is put back in the queue,
# inside the transaction that does it: before any worker can start it again.
job_requeued = Signal()
