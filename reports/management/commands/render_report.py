"""Write a report's PDF to a file, for operators and scripts (renders in this process, not on a worker)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Membership, Organization
from reports.models import Report, ReportRun
from reports.rendering import render_pdf
from reports.sections import Context, clean_sections, compute_all
from reports.services import bounds_for, definition_of
from reports.templates_catalogue import TEMPLATES


class Command(BaseCommand):
    help = "Render a saved report (--report ID) or a shipped template (--template KEY) of an organization to PDF."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--report", type=int, help="A saved report's id.")
        parser.add_argument("--template", choices=sorted(TEMPLATES), help="A shipped template.")
        parser.add_argument("--out", required=True, help="Where to write the PDF.")
        parser.add_argument("--timezone", default="UTC", help="Time zone of the period (default UTC).")

    def handle(self, *args, org, report, template, out, timezone: str, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization {org!r}.")
        if (report is None) == (template is None):
            raise CommandError("Give exactly one of --report or --template.")
        if report is not None:
            saved = Report.objects.for_org(organization).filter(pk=report).first()
            if saved is None:
                raise CommandError(f"No report {report} in {org}.")
            definition, version, shown = definition_of(saved), saved.version, saved
        else:
            shipped = TEMPLATES[template]
            definition = {"title": shipped.title, "description": shipped.description, "period": shipped.period,
                          "sections": clean_sections(shipped.sections)}  # fmt: skip
            version, shown = 1, Report(organization=organization, title=shipped.title,
                                       description=shipped.description)  # fmt: skip
        # Sections are computed as the organization's first owner sees them (operators act for the organization).
        owner = Membership.objects.filter(organization=organization, role="owner").select_related("user").first()
        if owner is None:
            raise CommandError(f"{org} has no owner to render as.")
        start, end = bounds_for(definition, now=timezone_now(), tz_name=timezone)
        run = ReportRun(organization=organization, version=version, period_start=start, period_end=end)
        ctx = Context(org=organization, viewer=owner.user, start=start, end=end, period=definition["period"])
        computed = compute_all(ctx, definition["sections"])
        pdf, pages = render_pdf(report=shown, run=run, sections=computed)
        Path(out).write_bytes(pdf)
        self.stdout.write(f"wrote {out}: {pages} pages, {len(pdf):,} bytes")


def timezone_now():
    return timezone.now()
