"""Export an organization's anonymized datasets (keyed hashes, no free text, truncated IPs) as CSV or JSON Lines."""

from accounts.management.commands.export_org import Command as ExportCommand
from accounts.models import OrgExport


class Command(ExportCommand):
    help = "Export anonymized datasets of an organization for analytics (members, channels, messages, audit)."
    kind = OrgExport.Kind.ANONYMIZED

    def add_kind_arguments(self, parser):
        parser.add_argument("--format", choices=OrgExport.Format.values, default=OrgExport.Format.CSV)

    def options_for(self, options) -> dict:
        return {"fmt": options["format"]}
