import contextlib
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Organization
from audit import audit_events as events
from audit.api_requests import api_chain_id
from audit.export import CONTENT_TYPES, EXPORT_FIELDS, export_lines, with_redactions
from audit.models import PLATFORM_CHAIN, AuditEvent
from audit.services import Actor, audit_record


class Command(BaseCommand):
    help = (
        "Export one audit chain, oldest first, as CSV, JSON Lines or OCSF events: an organization's events "
        "(--org), its API calls (--org with --api-calls), or the platform chain (logins; --platform)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--type", default="jsonl", choices=sorted(CONTENT_TYPES))
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--org", help="The organization's slug.")
        which.add_argument("--platform", action="store_true", help="Events without an organization (logins).")
        parser.add_argument("--api-calls", action="store_true", help="The organization's api.request chain.")
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")

    def handle(self, *args, type, org=None, platform=False, api_calls=False, output=None, **options):
        organization = None
        if org:
            organization = Organization.objects.filter(slug=org).first()
            if organization is None:
                raise CommandError(f"no organization with slug {org!r}")
            chain_id = api_chain_id(organization.pk) if api_calls else organization.pk
        else:
            chain_id = PLATFORM_CHAIN
        with transaction.atomic():  # an export is recorded wherever it is made from
            audit_record(
                org=organization, event=events.AUDIT_EXPORTED, actor=Actor.system("audit_export"),
                metadata={"type": type, "chain": chain_id},
            )  # fmt: skip
        rows = with_redactions(
            AuditEvent.objects.filter(chain=chain_id)
            .order_by("sequence")
            .values(*EXPORT_FIELDS)
            .iterator(chunk_size=2000)
        )
        with open(output, "w", encoding="utf-8") if output else contextlib.nullcontext(sys.stdout) as handle:
            for text in export_lines(rows, type):
                handle.write(text)
