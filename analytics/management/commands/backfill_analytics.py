import datetime

from django.core.management.base import BaseCommand, CommandError

from analytics.services import aggregate_range

# A backfill longer than this is probably a typo in a year.
MAX_DAYS = 3660


def parse_day(value, option):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be a date as YYYY-MM-DD, not {value!r}")


class Command(BaseCommand):
    help = "Recompute daily analytics for every day of a range (UTC, inclusive)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True)
        parser.add_argument("--to", dest="last", required=True)

    def handle(self, *args, first, last, **options):
        first = parse_day(first, "--from")
        last = parse_day(last, "--to")
        if first > last:
            raise CommandError(f"--from {first} is after --to {last}")
        if (last - first).days + 1 > MAX_DAYS:
            raise CommandError(f"at most {MAX_DAYS} days per backfill")
        rows = aggregate_range(first, last)
        self.stdout.write(f"{(last - first).days + 1} days, {rows} rows")
