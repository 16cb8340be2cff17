"""The report builder: a server-rendered page (no scripts, no CDN) to pick sections, their order, the period and
the PDF variant, preview the result and save. Saving goes through the same services as the API."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.selectors import membership_for_slug
from rbac.services import has_perm
from reports import metrics, services
from reports.models import PdfVariant, Period, Report, ReportRun
from reports.permissions import REPORTS_MANAGE
from reports.rendering import render_html
from reports.sections import Context, clean_sections, compute_all, sections
from reports.templates_catalogue import TEMPLATES

EMPTY_ROWS = 3


def _org_for(request, org_slug):
    membership = membership_for_slug(user=request.user, org_slug=org_slug)
    if membership is None:
        raise Http404
    org = membership.organization
    if not has_perm(user=request.user, org=org, perm=REPORTS_MANAGE):
        raise PermissionDenied(f"You need the '{REPORTS_MANAGE.key}' permission to build reports.")
    return org


def _rows_from_post(post) -> list[dict]:
    """The section rows of the form, ordered by their order field; rows without a type are dropped."""
    rows = []
    for index in range(int(post.get("row_count", 0) or 0)):
        kind = post.get(f"type_{index}", "")
        if not kind:
            continue
        params = {}
        if kind == "metric":
            params = {"metric": post.get(f"metric_{index}", ""), "periods": int(post.get(f"periods_{index}") or 8)}
        elif kind == "comparison":
            params = {"metrics": post.getlist(f"metrics_{index}")}
        elif kind == "text":
            params = {"markdown": post.get(f"markdown_{index}", "")}
        try:
            order = float(post.get(f"order_{index}") or index + 1)
        except ValueError:
            order = index + 1
        rows.append((order, index, {"type": kind, "title": post.get(f"title_{index}", "").strip(), "params": params}))
    return [row for _, _, row in sorted(rows, key=lambda r: (r[0], r[1]))]


def _form_rows(definition: list[dict]) -> list[dict]:
    rows = [dict(item, index=i, order=i + 1) for i, item in enumerate(definition)]
    rows += [{"index": len(rows) + i, "order": len(rows) + i + 1, "type": "", "title": "", "params": {}}
             for i in range(EMPTY_ROWS)]  # fmt: skip
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def builder(request, org: str, pk: int | None = None):
    org = _org_for(request, org)
    report = Report.objects.for_org(org).filter(pk=pk).first() if pk else None
    if pk and report is None:
        raise Http404
    values = {"title": report.title if report else "", "description": report.description if report else "",
              "period": report.period if report else Period.WEEK,
              "pdf_variant": report.pdf_variant if report else PdfVariant.ACCESSIBLE}  # fmt: skip
    definition = list(report.sections) if report else []
    errors, preview = {}, ""
    if request.method == "GET" and request.GET.get("template") in TEMPLATES:
        shipped = TEMPLATES[request.GET["template"]]
        values.update(title=shipped.title, description=shipped.description, period=shipped.period)
        definition = clean_sections(shipped.sections)
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in ("title", "description", "period", "pdf_variant")}
        definition = _rows_from_post(request.POST)
        try:
            cleaned = clean_sections(definition)
            if request.POST.get("action") == "save":
                if report is None:
                    report = services.report_create(actor=request.user, org=org, sections=cleaned, **values)
                else:
                    report = services.report_update(actor=request.user, org=org, report=report, sections=cleaned,
                                                    **values)  # fmt: skip
                return redirect("reports:builder-edit", org=org.slug, pk=report.pk)
            preview = _preview(org=org, user=request.user, values=values, definition=cleaned)
            definition = cleaned
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    context = {
        "org": org, "report": report, "values": values, "rows": _form_rows(definition), "errors": errors,
        "preview": preview, "section_types": list(sections), "metrics": list(metrics.METRICS.values()),
        "periods": Period.choices, "variants": PdfVariant.choices, "templates": list(TEMPLATES.values()),
        "reports": Report.objects.for_org(org).order_by("title")[:200],
    }  # fmt: skip
    return render(request, "reports/builder.html", context, status=400 if errors else 200)


def _preview(*, org, user, values: dict, definition: list[dict]) -> str:
    """The report as HTML for the last complete period, computed with the builder's permissions (no PDF)."""
    missing = services.missing_permissions(user=user, org=org, definition=definition)
    if missing:
        raise ValidationError({"sections": [f"You may not see: {', '.join(missing)}."]})
    if values.get("period") not in Period.values or values["period"] == Period.CUSTOM:
        values["period"] = Period.WEEK  # custom ranges are set over the API; the preview shows a week
    start, end = services.bounds_for({"period": values["period"]}, now=timezone.now())
    draft = Report(organization=org, title=values.get("title") or "Untitled report",
                   description=values.get("description", ""), pk=0)  # fmt: skip
    run = ReportRun(organization=org, version=0, period_start=start, period_end=end, pk=0)
    computed = compute_all(Context(org=org, viewer=user, start=start, end=end, period=values["period"]), definition)
    return render_html(report=draft, run=run, sections=computed)
