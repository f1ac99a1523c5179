"""Signals sent when a job ends (used by notifications and webhooks)."""

from django.dispatch import Signal

# Sent with ``job`` after a job's outcome is saved.
job_finished = Signal()
job_succeeded = Signal()
