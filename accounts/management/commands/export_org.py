"""Export an organization into a tar.gz archive (the same job as the API's, run here and recorded)."""

import shutil
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from rest_framework.exceptions import APIException

from accounts.models import Organization, OrgExport
from accounts.services.portability import org_export_path, org_export_request, org_export_run


class Command(BaseCommand):
    help = "Export an organization (members, teams, roles, channels, messages, ...) into a versioned tar.gz archive."
    kind = OrgExport.Kind.FULL

    def add_arguments(self, parser):
        parser.add_argument("org", help="The organization's slug.")
        parser.add_argument("--output", "-o", help="Copy the archive here too (default: only the export directory).")
        parser.add_argument("--include-audit", action="store_true", help="Add the audit trail's events.")
        self.add_kind_arguments(parser)

    def add_kind_arguments(self, parser):
        parser.add_argument(
            "--full-migration", action="store_true",
            help="Include password hashes (moving an instance: people keep their passwords). Handle the file "
            "like the database itself.",
        )  # fmt: skip

    def options_for(self, options) -> dict:
        return {"full_migration": options["full_migration"]}

    def handle(self, *args, **options):
        org = Organization.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"No organization with the slug {options['org']!r}.")
        try:
            job = org_export_request(
                actor=None, org=org, kind=self.kind, include_audit=options["include_audit"], queue=False,
                **self.options_for(options),
            )  # fmt: skip
        except (APIException, PermissionDenied, ValidationError) as exc:
            raise CommandError(str(getattr(exc, "detail", exc))) from None
        job = org_export_run(export_id=job.pk) or job
        if job.status != OrgExport.Status.DONE:
            raise CommandError(f"Export #{job.pk} failed: {job.error}")
        path = org_export_path(job)
        if options["output"]:
            shutil.copyfile(path, Path(options["output"]))
            path = Path(options["output"])
        for entry, rows in sorted(job.counts.items()):
            self.stdout.write(f"  {entry}: {rows}")
        self.stdout.write(self.style.SUCCESS(f"Export #{job.pk}: {path} ({job.size} bytes, sha256 {job.sha256})"))
