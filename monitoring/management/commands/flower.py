import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def flower_argv(*, basic_auth, address, port):
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "dreamseed",
        "flower",
        f"--basic-auth={basic_auth}",
        f"--address={address}",
        f"--port={port}",
    ]


class Command(BaseCommand):
    help = (
        "Start Flower behind basic authentication (FLOWER_BASIC_AUTH=user:password), "
        "bound to 127.0.0.1 unless told otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("--address", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=5555)

    def handle(self, *args, address, port, **options):
        basic_auth = settings.FLOWER_BASIC_AUTH
        users = [pair for pair in basic_auth.split(",") if pair]
        if not users or any(
            ":" not in pair or not pair.split(":", 1)[1] for pair in users
        ):
            raise CommandError(
                "set FLOWER_BASIC_AUTH to user:password (comma-separated for "
                "several users); Flower will not start without authentication"
            )
        if address not in ("127.0.0.1", "localhost", "::1"):
            self.stderr.write(
                "warning: Flower's /metrics page is open even with basic "
                "authentication; keep it behind a proxy that protects it"
            )
        argv = flower_argv(basic_auth=basic_auth, address=address, port=port)
        os.execv(argv[0], argv)
