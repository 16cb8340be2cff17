"""Import subscriptions from a CSV file (columns in analytics/revenue/services/imports.py and docs/revenue.md)."""

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from analytics.revenue.services.imports import MAX_BYTES, ImportRejected, csv_import
from audit.services import Actor


class Command(BaseCommand):
    help = "Import subscriptions from CSV: every row is checked first; any problem and nothing is written."

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file (UTF-8, header row)")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report; write nothing.")
        parser.add_argument("--actor", help="Operator e-mail recorded in the audit trail (needs revenue.manage).")

    def handle(self, *args, path, dry_run, actor, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"{path}: no such file")
        if file.stat().st_size > MAX_BYTES:
            raise CommandError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB")
        who = Actor.system("revenue_import_csv")
        if actor:
            who = User.objects.filter(email__iexact=actor).first()
            if who is None:
                raise CommandError(f"--actor: no user {actor}")
        try:
            result = csv_import(actor=who, content=file.read_bytes(), filename=file.name, dry_run=dry_run)
        except ImportRejected as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(f"{file.name}: {exc}") from None
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        verb = "would import" if dry_run else "imported"
        self.stdout.write(
            f"{file.name}: {verb} {result.rows} row(s): {result.subscriptions_created} new subscription(s), "
            f"{result.subscriptions_updated} updated."
        )
