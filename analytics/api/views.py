"""The analytics API: /api/v1/orgs/{org}/analytics/... and /api/v1/instance/analytics/... (validate -> call a
selector or service -> render)."""

import csv
import io
from datetime import UTC, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors, services
from analytics.api.serializers import (
    AnalyticsSettingsSerializer,
    DashboardInputSerializer,
    DashboardSerializer,
    DuplicateSerializer,
    EventBatchResultSerializer,
    EventBatchSerializer,
    IngestKeyCreatedSerializer,
    IngestKeyCreateSerializer,
    IngestKeySerializer,
    RangeSerializer,
    TileInputSerializer,
    TileSerializer,
)
from analytics.builtin import INSTANCE_OVERVIEW
from analytics.metrics import FILTERS, MetricInputError, catalogue, metric_series
from analytics.models import Dashboard, IngestKey, Tile
from analytics.permissions import ANALYTICS_MANAGE, ANALYTICS_VIEW, DASHBOARDS_VIEW
from analytics.rendering import dashboard_render, tile_csv_rows, tile_render
from audit.context import current as request_context
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from rbac.services import has_perm, require_perm

MAX_RANGE = timedelta(days=731)
MAX_HOURLY_RANGE = timedelta(days=31)

RANGE_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="Start (inclusive); default: `range` before end."),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="End (exclusive); default: the end of today (UTC)."),
    OpenApiParameter("range", str, description="Days ending at `end` when no start is given: 7d, 30d, 90d..."),
]
SERIES_PARAMETERS = [
    OpenApiParameter(
        "metric", str, description="A key of the metric catalogue (GET .../metrics); default active_users."
    ),
    *RANGE_PARAMETERS,
    OpenApiParameter("interval", str, enum=["hour", "day", "week", "month"], description="Default: day."),
    OpenApiParameter("breakdown", str, description="One of the metric's breakdowns."),
    *[OpenApiParameter(name, str, description=f"Filter: {name}.") for name in FILTERS],
]


def time_range(params: dict, *, default_days: int = 30):
    """(start, end) from validated query parameters; end defaults to the end of today, so today is included."""
    now = timezone.now().astimezone(UTC)
    end = params.get("end") or (now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))
    days = int(params["range"][:-1]) if params.get("range") else default_days
    start = params.get("start") or end - timedelta(days=days)
    if end <= start:
        raise exceptions.ValidationError({"end": ["end must be after start."]})
    if end - start > MAX_RANGE:
        raise exceptions.ValidationError({"start": ["A range spans at most two years."]})
    if params.get("interval") == "hour" and end - start > MAX_HOURLY_RANGE:
        raise exceptions.ValidationError({"interval": ["Hourly series span at most 31 days."]})
    return start, end


def parse_range(request, **kwargs):
    params = RangeSerializer(data=request.query_params.dict())
    params.is_valid(raise_exception=True)
    return params.validated_data, time_range(params.validated_data, **kwargs)


def series_response(*, org, params, start, end):
    filters = {name: params[name] for name in FILTERS if name in params}
    try:
        series = metric_series(params.setdefault("metric", "active_users"), org=org, start=start, end=end,
                               interval=params.get("interval", "day"), breakdown=params.get("breakdown", ""),
                               filters=filters)  # fmt: skip
    except MetricInputError as exc:
        raise exceptions.ValidationError({exc.field: [str(exc)]}) from None
    return {"metric": params["metric"], "start": start.isoformat(), "end": end.isoformat(), **series.as_dict()}


def metric_catalogue(scope: str) -> list[dict]:
    return [
        {"key": m.key, "title": m.title, "unit": m.unit, "breakdowns": list(m.breakdowns),
         "filters": list(m.filters), "intervals": list(m.intervals), "summary": m.summary,
         "description": m.description, "time_series": m.time_series}
        for m in catalogue if scope in m.scope
    ]  # fmt: skip


class AnalyticsViewSet(OrgScopedViewSet):
    """Usage analytics of the organization (holders of analytics.view)."""

    queryset = Dashboard.objects.none()
    serializer_class = RangeSerializer

    def scoped_queryset(self):
        return Dashboard.objects.none()

    def _require_view(self):
        require_perm(user=self.request.user, org=self.organization, perm=ANALYTICS_VIEW)

    @extend_schema(summary="The metric catalogue", parameters=[ORG_SLUG], responses=OpenApiTypes.OBJECT)
    def metrics(self, request, *args, **kwargs):
        self._require_view()
        return Response({"metrics": metric_catalogue("org")})

    @extend_schema(summary="A metric's time series", parameters=[ORG_SLUG, *SERIES_PARAMETERS],
                   responses=OpenApiTypes.OBJECT)  # fmt: skip
    def series(self, request, *args, **kwargs):
        self._require_view()
        params, (start, end) = parse_range(request)
        return Response(series_response(org=self.organization, params=params, start=start, end=end))

    @extend_schema(summary="DAU, WAU, MAU, stickiness and the last weeks' lifecycle", parameters=[ORG_SLUG],
                   responses=OpenApiTypes.OBJECT)  # fmt: skip
    def users(self, request, *args, **kwargs):
        self._require_view()
        return Response(selectors.users_summary(org=self.organization))

    @extend_schema(summary="Weekly retention cohorts", responses=OpenApiTypes.OBJECT,
                   parameters=[ORG_SLUG, *RANGE_PARAMETERS, OpenApiParameter("team", int)])  # fmt: skip
    def retention(self, request, *args, **kwargs):
        self._require_view()
        params, (start, end) = parse_range(request, default_days=56)
        try:
            persons = selectors.team_persons(self.organization, params["team"]) if "team" in params else None
        except MetricInputError as exc:
            raise exceptions.ValidationError({exc.field: [str(exc)]}) from None
        table = selectors.retention_table(self.organization, start, end, persons)
        return Response({
            "start": start.isoformat(), "end": end.isoformat(),
            "cohorts": [{"week": c["week"].date().isoformat(), "size": c["size"], "retention": c["retention"],
                         "people": c["people"]} for c in table["cohorts"]],
        })  # fmt: skip

    @extend_schema(summary="Feature adoption against the 90 % target, with trends", responses=OpenApiTypes.OBJECT,
                   parameters=[ORG_SLUG, *RANGE_PARAMETERS, OpenApiParameter("team", int)])  # fmt: skip
    def features(self, request, *args, **kwargs):
        self._require_view()
        params, (start, end) = parse_range(request)
        try:
            data = selectors.features_adoption(org=self.organization, start=start, end=end, team=params.get("team"))
        except MetricInputError as exc:
            raise exceptions.ValidationError({exc.field: [str(exc)]}) from None
        return Response({"start": start.isoformat(), "end": end.isoformat(), **data})

    @extend_schema(
        summary="Send product events (a batch; bad items are reported by index, good ones stored)",
        parameters=[ORG_SLUG],
        request=EventBatchSerializer,
        responses=EventBatchResultSerializer,
    )
    def events(self, request, *args, **kwargs):
        body = EventBatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.events_ingest(org=self.organization, user=request.user, items=body.validated_data["events"],
                                         ip=request_context().ip)  # fmt: skip
        return Response(result)

    @extend_schema(summary="The organization's analytics settings", parameters=[ORG_SLUG],
                   responses=AnalyticsSettingsSerializer)  # fmt: skip
    def settings_show(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=ANALYTICS_MANAGE)
        return Response({"enabled": services.analytics_settings_of(self.organization).enabled})

    @extend_schema(summary="Opt the organization out of (or back into) product analytics", parameters=[ORG_SLUG],
                   request=AnalyticsSettingsSerializer, responses=AnalyticsSettingsSerializer)  # fmt: skip
    def update_settings(self, request, *args, **kwargs):
        body = AnalyticsSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = services.analytics_settings_update(actor=request.user, org=self.organization, **body.validated_data)
        return Response({"enabled": saved.enabled})


class IngestKeyViewSet(OrgScopedViewSet):
    """Keys for the PostHog-compatible ingest (holders of analytics.manage)."""

    queryset = IngestKey.objects.all()
    serializer_class = IngestKeySerializer

    def scoped_queryset(self):
        require_perm(user=self.request.user, org=self.organization, perm=ANALYTICS_MANAGE)
        return IngestKey.objects.all()

    @extend_schema(summary="The organization's ingestion keys", parameters=[ORG_SLUG])
    def list(self, request, *args, **kwargs):
        return Response(IngestKeySerializer(self.get_queryset(), many=True).data)

    @extend_schema(summary="Create an ingestion key (the key is shown once)", parameters=[ORG_SLUG],
                   request=IngestKeyCreateSerializer, responses={201: IngestKeyCreatedSerializer})  # fmt: skip
    def create(self, request, *args, **kwargs):
        body = IngestKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key, raw = services.ingest_key_create(actor=request.user, org=self.organization, **body.validated_data)
        data = IngestKeySerializer(key).data | {"key": raw}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke an ingestion key", parameters=[ORG_SLUG], responses={204: None})
    def destroy(self, request, *args, **kwargs):
        services.ingest_key_revoke(actor=request.user, org=self.organization, key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class DashboardViewSet(OrgScopedViewSet):
    """Dashboards the caller may see (dashboards.view org-wide or granted on the dashboard)."""

    queryset = Dashboard.objects.all()
    serializer_class = DashboardSerializer

    def scoped_queryset(self):
        return selectors.dashboards_visible(user=self.request.user, org=self.organization).prefetch_related(
            Prefetch("tiles", queryset=Tile.objects.order_by("position", "id"))
        )

    @extend_schema(summary="Dashboards you can see (the organization overview is created on first use)",
                   parameters=[ORG_SLUG])  # fmt: skip
    def list(self, request, *args, **kwargs):
        services.org_overview_ensure(org=self.organization)
        return Response(DashboardSerializer(self.get_queryset(), many=True).data)

    @extend_schema(summary="Create a dashboard, optionally with tiles", parameters=[ORG_SLUG],
                   request=DashboardInputSerializer, responses={201: DashboardSerializer})  # fmt: skip
    def create(self, request, *args, **kwargs):
        body = DashboardInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        dashboard = services.dashboard_create(actor=request.user, org=self.organization, **body.validated_data)
        return Response(DashboardSerializer(dashboard).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="A dashboard and its tiles", parameters=[ORG_SLUG])
    def retrieve(self, request, *args, **kwargs):
        return Response(DashboardSerializer(self.get_object()).data)

    @extend_schema(summary="Rename or describe a dashboard", parameters=[ORG_SLUG],
                   request=DashboardInputSerializer(partial=True), responses=DashboardSerializer)  # fmt: skip
    def partial_update(self, request, *args, **kwargs):
        dashboard = self.get_object()
        body = DashboardInputSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        changes = {k: v for k, v in body.validated_data.items() if k != "tiles"}
        services.dashboard_update(actor=request.user, org=self.organization, dashboard=dashboard, **changes)
        return Response(DashboardSerializer(self.get_object()).data)

    @extend_schema(summary="Delete a dashboard", parameters=[ORG_SLUG], responses={204: None})
    def destroy(self, request, *args, **kwargs):
        services.dashboard_delete(actor=request.user, org=self.organization, dashboard=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Duplicate a dashboard with its tiles", parameters=[ORG_SLUG], request=DuplicateSerializer,
                   responses={201: DashboardSerializer})  # fmt: skip
    def duplicate(self, request, *args, **kwargs):
        body = DuplicateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        copy = services.dashboard_duplicate(actor=request.user, org=self.organization, dashboard=self.get_object(),
                                            name=body.validated_data.get("name", ""))  # fmt: skip
        return Response(DashboardSerializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="The dashboard's definition as JSON (to import elsewhere)", parameters=[ORG_SLUG],
                   responses=OpenApiTypes.OBJECT)  # fmt: skip
    def export(self, request, *args, **kwargs):
        dashboard = self.get_object()
        services.dashboard_export_record(actor=request.user, org=self.organization, dashboard=dashboard, fmt="json")
        data = DashboardSerializer(dashboard).data
        definition = {"name": data["name"], "description": data["description"],
                      "default_range_days": data["default_range_days"],
                      "tiles": [{k: v for k, v in t.items() if k != "id"} for t in data["tiles"]]}  # fmt: skip
        response = Response(definition)
        response["Content-Disposition"] = f'attachment; filename="dashboard-{dashboard.pk}.json"'
        return response

    @extend_schema(summary="Every tile's data for a time range", parameters=[ORG_SLUG, *RANGE_PARAMETERS],
                   responses=OpenApiTypes.OBJECT)  # fmt: skip
    def data(self, request, *args, **kwargs):
        dashboard = self.get_object()
        _, (start, end) = parse_range(request, default_days=dashboard.default_range_days)
        results = dashboard_render(dashboard, org=self.organization, start=start, end=end,
                                   tiles=list(dashboard.tiles.all()))  # fmt: skip
        return Response({"dashboard": dashboard.pk, "start": start.isoformat(), "end": end.isoformat(),
                         "tiles": [r.as_dict() for r in results]})  # fmt: skip

    @extend_schema(summary="Add a tile", parameters=[ORG_SLUG], request=TileInputSerializer,
                   responses={201: TileSerializer})  # fmt: skip
    def add_tile(self, request, *args, **kwargs):
        body = TileInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tile = services.tile_add(actor=request.user, org=self.organization, dashboard=self.get_object(),
                                 **body.validated_data)  # fmt: skip
        return Response(TileSerializer(tile).data, status=status.HTTP_201_CREATED)


class TileViewSet(OrgScopedViewSet):
    """Tiles, by id; reading needs dashboards.view on the tile's dashboard, changing dashboards.edit."""

    queryset = Tile.objects.all()
    serializer_class = TileSerializer

    def scoped_queryset(self):
        visible = selectors.dashboards_visible(user=self.request.user, org=self.organization)
        return Tile.objects.filter(dashboard__in=visible.values("pk")).select_related("dashboard")

    @extend_schema(summary="Change a tile", parameters=[ORG_SLUG], request=TileInputSerializer(partial=True),
                   responses=TileSerializer)  # fmt: skip
    def partial_update(self, request, *args, **kwargs):
        tile = self.get_object()
        body = TileInputSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        tile = services.tile_update(actor=request.user, org=self.organization, tile=tile, **body.validated_data)
        return Response(TileSerializer(tile).data)

    @extend_schema(summary="Remove a tile", parameters=[ORG_SLUG], responses={204: None})
    def destroy(self, request, *args, **kwargs):
        services.tile_remove(actor=request.user, org=self.organization, tile=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="A tile's data for a time range", parameters=[ORG_SLUG, *RANGE_PARAMETERS],
                   responses=OpenApiTypes.OBJECT)  # fmt: skip
    def data(self, request, *args, **kwargs):
        tile = self.get_object()
        _, (start, end) = parse_range(request, default_days=tile.dashboard.default_range_days)
        return Response(tile_render(tile, org=self.organization, start=start, end=end).as_dict())

    @extend_schema(summary="A tile's data as CSV", parameters=[ORG_SLUG, *RANGE_PARAMETERS],
                   responses={(200, "text/csv"): str})  # fmt: skip
    def export(self, request, *args, **kwargs):
        tile = self.get_object()
        _, (start, end) = parse_range(request, default_days=tile.dashboard.default_range_days)
        result = tile_render(tile, org=self.organization, start=start, end=end)
        services.dashboard_export_record(actor=request.user, org=self.organization, dashboard=tile.dashboard,
                                         fmt="csv", tile=tile)  # fmt: skip
        out = io.StringIO()
        csv.writer(out).writerows(tile_csv_rows(result))
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="tile-{tile.pk}.csv"'
        return response


# --- the operator ---------------------------------------------------------------------------------------------


class InstanceView(APIView):
    """Instance-wide analytics: platform superusers only."""

    permission_classes = [IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.user.is_superuser:
            raise PermissionDenied("Instance analytics are for the operator (platform superusers).")


class InstanceMetricsView(InstanceView):
    @extend_schema(summary="The instance-wide metric catalogue", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response({"metrics": metric_catalogue("instance")})


class InstanceSeriesView(InstanceView):
    @extend_schema(summary="An instance-wide time series", parameters=SERIES_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params, (start, end) = parse_range(request)
        if "team" in params:
            raise exceptions.ValidationError({"team": ["Teams belong to an organization."]})
        return Response(series_response(org=None, params=params, start=start, end=end))


class InstanceUsersView(InstanceView):
    @extend_schema(summary="Instance-wide DAU, WAU, MAU, stickiness and lifecycle", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(selectors.users_summary(org=None))


class InstanceFeaturesView(InstanceView):
    @extend_schema(summary="Instance-wide feature adoption", parameters=RANGE_PARAMETERS,
                   responses=OpenApiTypes.OBJECT)  # fmt: skip
    def get(self, request):
        _, (start, end) = parse_range(request)
        return Response({"start": start.isoformat(), "end": end.isoformat(),
                         **selectors.features_adoption(org=None, start=start, end=end)})  # fmt: skip


class InstanceOverviewView(InstanceView):
    @extend_schema(summary="The Instance overview dashboard's data", parameters=RANGE_PARAMETERS,
                   responses=OpenApiTypes.OBJECT)  # fmt: skip
    def get(self, request):
        _, (start, end) = parse_range(request, default_days=INSTANCE_OVERVIEW["default_range_days"])
        results = dashboard_render(INSTANCE_OVERVIEW, org=None, start=start, end=end)
        return Response({"name": INSTANCE_OVERVIEW["name"], "start": start.isoformat(), "end": end.isoformat(),
                         "tiles": [r.as_dict() for r in results]})  # fmt: skip


class InstanceStatsView(InstanceView):
    @extend_schema(summary="The stat catalogue with each stat's fill state", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        from analytics.models import FillState
        from analytics.stats import ORDER
        from analytics.stats import catalogue as stats

        states = {s.stat: s for s in FillState.objects.all()}
        return Response({"stats": [
            {"key": key, "title": stats[key].title, "frequency": stats[key].frequency,
             "dimension": stats[key].dimension, "filled_until": states[key].filled_until.isoformat()
             if key in states else None, "state": states[key].state if key in states else "never filled"}
            for key in ORDER
        ]})  # fmt: skip


def may_view_dashboard(*, user, org, dashboard) -> bool:
    return has_perm(user=user, org=org, perm=DASHBOARDS_VIEW, obj=dashboard)
