"""Every write of reports: definitions (versioned), runs, settings. Keyword-only, permission-checked, audited.

Schedules and their delivery live in reports/schedules.py and reports/delivery.py, triggers in
reports/triggers.py; they follow the same rules.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, User
from audit.services import Actor, audit_record, diff
from rbac.services import has_perm, require_perm
from reports import audit_events as events
from reports.models import PdfVariant, Period, Report, ReportRun, ReportSettings, ReportVersion
from reports.permissions import REPORTS_MANAGE, REPORTS_VIEW
from reports.sections import Context, clean_sections, compute_all, period_bounds, sections
from reports.templates_catalogue import TEMPLATES


def storage() -> FileSystemStorage:
    """Where rendered PDFs live: REPORTS_FILES_DIR, shared by the workers that render and the web that serves."""
    return FileSystemStorage(location=settings.REPORTS_FILES_DIR)


DEFINITION_FIELDS = ("title", "description", "period", "custom_start", "custom_end", "sections", "pdf_variant")


def definition_of(report: Report) -> dict:
    values = {name: getattr(report, name) for name in DEFINITION_FIELDS}
    for name in ("custom_start", "custom_end"):
        values[name] = values[name].isoformat() if values[name] else None
    return values


def missing_permissions(*, user: User, org: Organization, definition: list[dict]) -> list[str]:
    """The section permissions `user` lacks, as 'Section title (permission)' strings."""
    missing = []
    for item in definition:
        perm = sections[item["type"]].permission
        if perm and not has_perm(user=user, org=org, perm=perm):
            missing.append(f"{item['title']} ({perm})")
    return missing


def _clean(values: dict, *, org: Organization, actor: User) -> dict:
    cleaned = dict(values)
    if "title" in cleaned:
        cleaned["title"] = (cleaned["title"] or "").strip()
        if not cleaned["title"] or len(cleaned["title"]) > 200:
            raise ValidationError({"title": ["A title of 1 to 200 characters."]})
    if "period" in cleaned and cleaned["period"] not in Period.values:
        raise ValidationError({"period": [f"One of: {', '.join(Period.values)}."]})
    if "pdf_variant" in cleaned and cleaned["pdf_variant"] not in PdfVariant.values:
        raise ValidationError({"pdf_variant": [f"One of: {', '.join(PdfVariant.values)}."]})
    if "sections" in cleaned:
        cleaned["sections"] = clean_sections(cleaned["sections"])
        missing = missing_permissions(user=actor, org=org, definition=cleaned["sections"])
        if missing:
            raise ValidationError({"sections": [f"You may not see: {', '.join(missing)}."]})
    return cleaned


def _check_period(report: Report) -> None:
    if report.period == Period.CUSTOM:
        if not report.custom_start or not report.custom_end:
            raise ValidationError({"custom_start": ["A custom period needs custom_start and custom_end."]})
        if report.custom_end < report.custom_start:
            raise ValidationError({"custom_end": ["The end comes before the start."]})
        if (report.custom_end - report.custom_start).days > 366:
            raise ValidationError({"custom_end": ["A custom period covers at most 366 days."]})


def _save_version(report: Report, actor: User | None) -> None:
    ReportVersion.objects.create(
        organization=report.organization, report=report, version=report.version,
        definition=definition_of(report), created_by=actor,
    )  # fmt: skip


@transaction.atomic
def report_create(*, actor: User, org: Organization, template: str = "", **values) -> Report:
    """A new report, from a shipped template (its values as defaults) or from scratch (reports.manage)."""
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if template:
        if template not in TEMPLATES:
            raise ValidationError({"template": [f"One of: {', '.join(TEMPLATES)}."]})
        shipped = TEMPLATES[template]
        defaults = {"title": shipped.title, "description": shipped.description, "period": shipped.period,
                    "sections": [dict(s) for s in shipped.sections]}  # fmt: skip
        values = {**defaults, **{k: v for k, v in values.items() if v not in (None, "")}}
    values.setdefault("sections", [])
    values = _clean(values, org=org, actor=actor)
    if "title" not in values:
        raise ValidationError({"title": ["A report needs a title."]})
    report = Report(organization=org, template=template, created_by=actor, **values)
    _check_period(report)
    report.save()
    _save_version(report, actor)
    audit_record(org=org, event=events.REPORT_CREATED, actor=actor, target=report,
                 changes=diff({}, definition_of(report)))  # fmt: skip
    return report


@transaction.atomic
def report_update(*, actor: User, org: Organization, report: Report, **changes) -> Report:
    """Change a report's definition; a real change saves a new version (deliveries record the one they used)."""
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if report.organization_id != org.pk:
        raise PermissionDenied("The report belongs to another organization.")
    unknown = set(changes) - set(DEFINITION_FIELDS)
    if unknown:
        raise ValidationError({name: ["Cannot be changed."] for name in sorted(unknown)})
    report = Report.objects.select_for_update().get(pk=report.pk)
    before = definition_of(report)
    for name, value in _clean(changes, org=org, actor=actor).items():
        setattr(report, name, value)
    _check_period(report)
    changed = diff(before, definition_of(report))
    if changed:
        report.version += 1
        report.updated = timezone.now()
        report.save()
        _save_version(report, actor)
        audit_record(org=org, event=events.REPORT_UPDATED, actor=actor, target=report, changes=changed,
                     metadata={"version": report.version})  # fmt: skip
    return report


@transaction.atomic
def report_delete(*, actor: User, org: Organization, report: Report) -> None:
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if report.organization_id != org.pk:
        raise PermissionDenied("The report belongs to another organization.")
    audit_record(org=org, event=events.REPORT_DELETED, actor=actor, target=report,
                 changes=diff(definition_of(report), {}))  # fmt: skip
    paths = list(ReportRun.objects.filter(report=report).exclude(pdf_path="").values_list("pdf_path", flat=True))
    report.delete()
    transaction.on_commit(lambda: [storage().delete(p) for p in paths])


# --- runs ----------------------------------------------------------------------------------------------------


def version_definition(report: Report, version: int | None = None) -> tuple[int, dict]:
    version = version or report.version
    row = ReportVersion.objects.filter(report=report, version=version).first()
    return version, (row.definition if row else definition_of(report))


def bounds_for(definition: dict, *, now, tz_name: str = "UTC"):
    from datetime import date

    custom = None
    if definition["period"] == Period.CUSTOM:
        custom = (date.fromisoformat(definition["custom_start"]), date.fromisoformat(definition["custom_end"]))
    return period_bounds(definition["period"], now=now, tz=ZoneInfo(tz_name), custom=custom)


def run_create(
    *, org: Organization, report: Report, requested_by: User | None, now=None, tz_name: str = "UTC"
) -> ReportRun:
    """A queued run of the report's current version (no permission check: callers check theirs)."""
    version, definition = version_definition(report)
    start, end = bounds_for(definition, now=now or timezone.now(), tz_name=tz_name)
    return ReportRun.objects.create(
        organization=org, report=report, version=version, period_start=start, period_end=end,
        requested_by=requested_by,
    )  # fmt: skip


@transaction.atomic
def run_request(*, actor: User, org: Organization, report: Report) -> ReportRun:
    """Render the report now, on the reports queue (reports.view, and every section's permission)."""
    require_perm(user=actor, org=org, perm=REPORTS_VIEW)
    if report.organization_id != org.pk:
        raise PermissionDenied("The report belongs to another organization.")
    missing = missing_permissions(user=actor, org=org, definition=report.sections)
    if missing:
        raise PermissionDenied(f"You may not see: {', '.join(missing)}.")
    run = run_create(org=org, report=report, requested_by=actor)
    audit_record(org=org, event=events.REPORT_RUN_REQUESTED, actor=actor, target=report,
                 metadata={"run": run.pk, "version": run.version})  # fmt: skip
    from reports.tasks import render_run

    transaction.on_commit(lambda: render_run.delay(run.pk))
    return run


def _progress(run: ReportRun, percent: int) -> None:
    ReportRun.objects.filter(pk=run.pk).update(progress=percent)


def run_render(*, run: ReportRun, viewer: User | None = None) -> ReportRun:
    """Compute and render a queued run (worker side). Safe to run twice: a finished run is returned as is.

    Sections are computed with the permissions of `viewer` (the requester, or the schedule's owner)."""
    from reports.rendering import render_pdf

    claimed = ReportRun.objects.filter(pk=run.pk, status__in=[ReportRun.Status.QUEUED, ReportRun.Status.FAILED]).update(
        status=ReportRun.Status.RENDERING, progress=1, error=""
    )
    run.refresh_from_db()
    if not claimed:
        return run
    report, org = run.report, run.organization
    viewer = viewer or run.requested_by
    _, definition = version_definition(report, run.version)
    try:
        total = max(len(definition["sections"]), 1)
        ctx = Context(org=org, viewer=viewer, start=run.period_start, end=run.period_end, period=definition["period"])
        computed = compute_all(ctx, definition["sections"], progress=lambda n: _progress(run, 5 + 60 * n // total))
        pdf, pages = render_pdf(report=_as_version(report, definition), run=run, sections=computed)
        _progress(run, 95)
        path = storage().save(f"{org.pk}/run-{run.pk}.pdf", ContentFile(pdf))
    except Exception as exc:  # a broken render must leave a failed run with a reason, not a stuck one
        ReportRun.objects.filter(pk=run.pk).update(status=ReportRun.Status.FAILED, error=str(exc)[:2000],
                                                   finished=timezone.now())  # fmt: skip
        run.refresh_from_db()
        raise
    with transaction.atomic():
        run.status, run.progress, run.page_count, run.size_bytes = ReportRun.Status.DONE, 100, pages, len(pdf)
        run.pdf_path, run.data, run.finished = path, {"sections": computed}, timezone.now()
        run.expires_at = run.finished + timedelta(days=settings.REPORTS_DOWNLOAD_DAYS)
        run.save()
        audit_record(org=org, event=events.REPORT_RUN_FINISHED, actor=Actor.system("reports.render_run"),
                     target=run, metadata={"pages": pages, "bytes": len(pdf), "version": run.version})  # fmt: skip
    return run


def _as_version(report: Report, definition: dict) -> Report:
    """The report as it was at the rendered version (title and variant may have changed since)."""
    copy = Report(pk=report.pk, organization=report.organization, version=report.version)
    for name in ("title", "description", "pdf_variant"):
        setattr(copy, name, definition.get(name, getattr(report, name)))
    return copy


def run_pdf(run: ReportRun) -> bytes:
    with storage().open(run.pdf_path, "rb") as handle:
        return handle.read()


def run_downloadable(run: ReportRun, now=None) -> None:
    """Raise unless the run's PDF can be downloaded (done, not expired)."""
    from chatapp.kernel.errors import ProblemException

    if run.status != ReportRun.Status.DONE:
        raise ProblemException(f"The run is {run.status}; download it once it is done.", status_code=409,
                               slug="report-not-ready", title="Report not ready")  # fmt: skip
    if run.expires_at and run.expires_at <= (now or timezone.now()):
        raise ProblemException("This download has expired; run the report again.", status_code=410,
                               slug="report-expired", title="Download expired")  # fmt: skip


@transaction.atomic
def run_download(*, actor, org: Organization, run: ReportRun, via: str = "api") -> bytes:
    """The run's PDF; every download is audited (actor is a user, or the link's recipient for e-mail links)."""
    run_downloadable(run)
    audit_record(org=org, event=events.REPORT_DOWNLOADED, actor=actor, target=run, metadata={"via": via})
    return run_pdf(run)


def runs_expire(*, now=None) -> int:
    """Delete the PDFs of expired runs (daily); the run rows stay as the record."""
    now = now or timezone.now()
    expired = ReportRun.objects.filter(expires_at__lte=now).exclude(pdf_path="")
    count = 0
    for run in expired.iterator():
        storage().delete(run.pdf_path)
        ReportRun.objects.filter(pk=run.pk).update(pdf_path="")
        count += 1
    return count


# --- settings ------------------------------------------------------------------------------------------------


def settings_of(org: Organization) -> ReportSettings:
    return ReportSettings.objects.filter(organization=org).first() or ReportSettings(organization=org)


@transaction.atomic
def settings_set(*, actor: User, org: Organization, external_domains: list[str]) -> ReportSettings:
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    cleaned = sorted({d.strip().lower().lstrip("@") for d in external_domains if d and d.strip()})
    for domain in cleaned:
        if "." not in domain or " " in domain or "/" in domain:
            raise ValidationError({"external_domains": [f"{domain!r} is not a domain name."]})
    row, _ = ReportSettings.objects.get_or_create(organization=org)
    before = {"external_domains": row.external_domains}
    row.external_domains = cleaned
    row.save()
    changes = diff(before, {"external_domains": cleaned})
    if changes:
        audit_record(org=org, event=events.SETTINGS_CHANGED, actor=actor, target=row, changes=changes)
    return row
