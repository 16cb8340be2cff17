"""The dashboard pages: server-rendered, charts inline as SVG (no scripts, no CDN), a time-range switch."""

from datetime import UTC, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe

from accounts.selectors import membership_for_slug
from analytics import selectors, services
from analytics.builtin import INSTANCE_OVERVIEW
from analytics.events import DASHBOARD_VIEWED
from analytics.rendering import dashboard_render
from analytics.tracking import track

RANGES = (7, 30, 90, 180)


def _range(request, default_days: int):
    """(start, end, days) from ?range=30d or ?start=YYYY-MM-DD&end=YYYY-MM-DD; bad input falls back to default."""
    today_end = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    try:
        if request.GET.get("start") and request.GET.get("end"):
            start = datetime.strptime(request.GET["start"], "%Y-%m-%d").replace(tzinfo=UTC)
            end = datetime.strptime(request.GET["end"], "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
            if start < end and end - start <= timedelta(days=731):
                return start, end, None
        days = int(request.GET.get("range", "").rstrip("d") or default_days)
    except ValueError:
        days = default_days
    days = min(max(days, 1), 730)
    return today_end - timedelta(days=days), today_end, days


def _tiles_context(results):
    tiles = []
    for result in results:
        tiles.append({
            "result": result,
            # pygal builds the SVG with lxml (labels are escaped text nodes) and charts.py strips its script
            "svg": mark_safe(result.svg(width=560, height=240)),  # noqa: S308  # nosec B308 B703
            "rows": list(zip(result.series.labels, *result.series.series.values(), strict=True))
            if result.series is not None and result.tile.chart == "table" else [],
            "columns": list(result.series.series) if result.series is not None else [],
        })  # fmt: skip
    return tiles


def _page(request, *, title, description, results, start, end, days, org=None, dashboard=None, dashboards=()):
    return render(request, "analytics/dashboard.html", {
        "title": title, "description": description, "tiles": _tiles_context(results), "org": org,
        "dashboard": dashboard, "dashboards": dashboards, "ranges": RANGES, "days": days,
        "start": start.date().isoformat(), "end": (end - timedelta(days=1)).date().isoformat(),
        "empty": all(r.is_empty for r in results),
    })  # fmt: skip


@login_required
def org_home(request, org):
    membership = membership_for_slug(user=request.user, org_slug=org)
    if membership is None:
        raise Http404
    overview = services.org_overview_ensure(org=membership.organization)
    return redirect("analytics-dashboard-page", org=org, pk=overview.pk)


@login_required
def dashboard_page(request, org, pk):
    membership = membership_for_slug(user=request.user, org_slug=org)
    if membership is None:
        raise Http404
    org = membership.organization
    visible = selectors.dashboards_visible(user=request.user, org=org)
    dashboard = visible.filter(pk=pk).first()
    if dashboard is None:
        raise Http404
    start, end, days = _range(request, dashboard.default_range_days)
    results = dashboard_render(dashboard, org=org, start=start, end=end)
    track(DASHBOARD_VIEWED, org=org, user=request.user, client="web", properties={"dashboard": dashboard.pk})
    return _page(
        request,
        title=dashboard.name,
        description=dashboard.description,
        results=results,
        start=start,
        end=end,
        days=days,
        org=org,
        dashboard=dashboard,
        dashboards=list(visible.only("id", "name")),
    )


@login_required
def instance_overview(request):
    if not request.user.is_superuser:
        raise PermissionDenied("The instance overview is for the operator.")
    start, end, days = _range(request, INSTANCE_OVERVIEW["default_range_days"])
    results = dashboard_render(INSTANCE_OVERVIEW, org=None, start=start, end=end)
    return _page(request, title=INSTANCE_OVERVIEW["name"], description=INSTANCE_OVERVIEW["description"],
                 results=results, start=start, end=end, days=days)  # fmt: skip
