"""Import an organization archive into an empty organization (the platform operator's tool)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.services.portability import ArchiveRefused, org_import


class Command(BaseCommand):
    help = (
        "Import an archive made by export_org into an empty organization (created if the slug is new). The archive "
        "is checked completely first; the import is all or nothing; running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="The .tar.gz written by export_org or downloaded from the API.")
        parser.add_argument("--org", required=True, help="Slug of the target organization (new or empty).")
        parser.add_argument("--name", default="", help="Name of a new organization (default: the source's).")

    def handle(self, *args, **options):
        try:
            job = org_import(archive=Path(options["archive"]), org_slug=options["org"], org_name=options["name"])
        except ArchiveRefused as exc:
            raise CommandError(f"Archive refused, nothing was imported: {exc}") from None
        for entry, rows in sorted(job.counts.items()):
            self.stdout.write(f"  {entry}: {rows} created")
        for entry, rows in sorted(job.matched.items()):
            self.stdout.write(f"  {entry}: {rows} matched to existing rows")
        for entry, rows in sorted(job.dropped.items()):
            self.stdout.write(self.style.WARNING(f"  {entry}: {rows} left out (they refer to rows not in the archive)"))
        self.stdout.write(self.style.SUCCESS(f"Import #{job.pk} into {job.organization.slug}: done."))
        if job.counts.get("accounts.identityprovider"):
            self.stdout.write("Identity providers were imported disabled: enter their secrets, then enable them.")
