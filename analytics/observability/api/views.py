"""Error issues, error projects and performance: per organization (/api/v1/orgs/{org}/analytics/...) and
instance-wide for the operator (/api/v1/instance/analytics/..., superusers only)."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from analytics.observability import audit_events as events
from analytics.observability.api import serializers as s
from analytics.observability.models import EndpointHour, ErrorIssue, ErrorProject
from analytics.observability.permissions import ERRORS_MANAGE, ERRORS_VIEW, PERFORMANCE_VIEW
from analytics.observability.selectors import (
    SERIES,
    endpoint_summary,
    issue_hourly_counts,
    issue_latest_event,
    issues_of,
    projects_of,
    slo_report,
    task_summary,
)
from analytics.observability.services import issues as issue_services
from analytics.observability.services import projects as project_services
from audit.services import audit_record
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from chatapp.kernel.pagination import CursorPagination
from rbac.drf import HasPerm
from rbac.services import require_perm


class IssuePagination(CursorPagination):
    ordering = ("-last_seen", "-id")


def _filtered_issues(queryset, params):
    query = s.IssueFilterSerializer(data=params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    if "status" in data:
        queryset = queryset.filter(status=data["status"])
    if "project" in data:
        queryset = queryset.filter(project_id=data["project"])
    if data.get("q"):
        queryset = queryset.filter(Q(title__icontains=data["q"]) | Q(culprit__icontains=data["q"]))
    return queryset


def _detail(issue: ErrorIssue, context: dict) -> dict:
    now = timezone.now()
    context = {**context, "latest_event": issue_latest_event(issue=issue),
               "hourly": issue_hourly_counts(issue=issue, start=now - timedelta(hours=23), end=now)}  # fmt: skip
    return s.ErrorIssueDetailSerializer(issue, context=context).data


ISSUE_FILTERS = [
    OpenApiParameter("status", str, enum=["unresolved", "resolved", "ignored", "regressed"]),
    OpenApiParameter("project", int, description="An error project's id."),
    OpenApiParameter("q", str, description="Words in the title or culprit."),
]
PERIOD = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="Default: 24 hours before end."),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="Default: now."),
]
SERIES_PARAMS = [
    *PERIOD,
    OpenApiParameter("metric", str, enum=sorted(SERIES), description="Default: requests."),
    OpenApiParameter("interval", str, enum=["hour", "day"]),
]
ENDPOINT_PARAMS = [
    *PERIOD,
    OpenApiParameter("source", str, enum=["server", "sdk"]),
    OpenApiParameter("order", str, enum=sorted(s.ENDPOINT_ORDERS)),
    OpenApiParameter("limit", int),
]
SLO_PARAMS = [OpenApiParameter("days", int, description="The SLO window (1-90, default 30).")]


class _IssueActions:
    """resolve / ignore / unresolve, shared by the organization's and the operator's issue view sets."""

    def _org(self):
        return getattr(self, "organization", None)

    def _change(self, request, service):
        issue = self.get_object()
        issue = service(actor=request.user, org=self._org(), issue=issue)
        return Response(_detail(issue, self.get_serializer_context()))

    @extend_schema(request=None, responses=s.ErrorIssueDetailSerializer, summary="Resolve the issue")
    @action(detail=True, methods=["post"])
    def resolve(self, request, *args, **kwargs):
        return self._change(request, issue_services.issue_resolve)

    @extend_schema(request=None, responses=s.ErrorIssueDetailSerializer, summary="Ignore the issue (no alerts)")
    @action(detail=True, methods=["post"])
    def ignore(self, request, *args, **kwargs):
        return self._change(request, issue_services.issue_ignore)

    @extend_schema(request=None, responses=s.ErrorIssueDetailSerializer, summary="Mark the issue unresolved")
    @action(detail=True, methods=["post"])
    def unresolve(self, request, *args, **kwargs):
        return self._change(request, issue_services.issue_reopen)


@extend_schema_view(
    list=extend_schema(summary="The organization's error issues", parameters=[ORG_SLUG, *ISSUE_FILTERS]),
    retrieve=extend_schema(summary="An error issue with its latest event", parameters=[ORG_SLUG]),
    resolve=extend_schema(parameters=[ORG_SLUG]),
    ignore=extend_schema(parameters=[ORG_SLUG]),
    unresolve=extend_schema(parameters=[ORG_SLUG]),
)
class ErrorIssueViewSet(_IssueActions, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = ErrorIssue.objects.all()
    serializer_class = s.ErrorIssueSerializer
    pagination_class = IssuePagination
    permission_classes = [IsAuthenticated, HasPerm.of(GET=ERRORS_VIEW, POST=ERRORS_MANAGE)]

    def scoped_queryset(self):
        return issues_of(org=self.organization)

    def filter_queryset(self, queryset):
        return _filtered_issues(queryset, self.request.query_params) if self.action == "list" else queryset

    def retrieve(self, request, *args, **kwargs):
        return Response(_detail(self.get_object(), self.get_serializer_context()))


@extend_schema_view(
    list=extend_schema(summary="Error projects (one DSN each)", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="An error project", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Create an error project", request=s.ErrorProjectCreateSerializer, parameters=[ORG_SLUG]
    ),
    partial_update=extend_schema(
        summary="Change an error project", request=s.ErrorProjectUpdateSerializer, parameters=[ORG_SLUG]
    ),
    destroy=extend_schema(summary="Delete an error project with its issues", parameters=[ORG_SLUG]),
    rotate_key=extend_schema(summary="Rotate the DSN key", request=None, parameters=[ORG_SLUG]),
)
class ErrorProjectViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet
):  # fmt: skip
    queryset = ErrorProject.objects.all()
    serializer_class = s.ErrorProjectSerializer
    permission_classes = [
        IsAuthenticated, HasPerm.of(GET=ERRORS_VIEW, POST=ERRORS_MANAGE, PATCH=ERRORS_MANAGE, DELETE=ERRORS_MANAGE)
    ]  # fmt: skip

    def scoped_queryset(self):
        return projects_of(org=self.organization)

    def create(self, request, *args, **kwargs):
        data = s.ErrorProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_services.project_create(actor=request.user, org=self.organization, **data.validated_data)
        return Response(self.get_serializer(project).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        project = self.get_object()
        data = s.ErrorProjectUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_services.project_update(
            actor=request.user, org=self.organization, project=project, **data.validated_data
        )
        return Response(self.get_serializer(project).data)

    def perform_destroy(self, instance):
        project_services.project_delete(actor=self.request.user, org=self.organization, project=instance)

    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request, *args, **kwargs):
        project = project_services.project_rotate_key(
            actor=request.user, org=self.organization, project=self.get_object()
        )
        return Response(self.get_serializer(project).data)


class _PerformanceReads:
    """endpoints / series / slo for an organization (org set) or the whole instance (org None)."""

    def _org(self):
        return getattr(self, "organization", None)

    def _read(self, serializer_class):
        query = serializer_class(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return query.validated_data

    def _endpoints(self):
        data = self._read(s.EndpointsQuerySerializer)
        rows = endpoint_summary(org=self._org(), start=data["start"], end=data["end"], source=data["source"],
                                order=data["order"], limit=data["limit"])  # fmt: skip
        return Response({"start": data["start"], "end": data["end"], "source": data["source"], "results": rows})

    def _series(self):
        data = self._read(s.SeriesQuerySerializer)
        points = SERIES[data["metric"]](
            org=self._org(), start=data["start"], end=data["end"], interval=data["interval"]
        )
        return Response({"metric": data["metric"], "interval": data["interval"],
                         "points": [{"start": start, "value": value} for start, value in points]})  # fmt: skip

    def _slo(self):
        data = self._read(s.SloQuerySerializer)
        return Response(slo_report(org=self._org(), end=timezone.now(), days=data["days"]))


@extend_schema_view(
    endpoints=extend_schema(summary="Per endpoint: requests, error rate, p50/p95/p99, DB queries (slowest first)",
                            parameters=[ORG_SLUG, *ENDPOINT_PARAMS], responses={200: OpenApiTypes.OBJECT}),
    series=extend_schema(summary="A performance or error time series", parameters=[ORG_SLUG, *SERIES_PARAMS],
                         responses={200: OpenApiTypes.OBJECT}),
    slo=extend_schema(summary="The SLO (p95 < 100 ms, errors < 0.1 %, 99.9 % availability) and error budget",
                      parameters=[ORG_SLUG, *SLO_PARAMS], responses={200: OpenApiTypes.OBJECT}),
)  # fmt: skip
class PerformanceViewSet(_PerformanceReads, OrgScopedViewSet):
    queryset = EndpointHour.objects.none()  # for the schema; reads go through the selectors
    permission_classes = [IsAuthenticated, HasPerm.of(GET=PERFORMANCE_VIEW)]

    def _read(self, serializer_class):
        require_perm(user=self.request.user, org=self.organization, perm=PERFORMANCE_VIEW)
        return super()._read(serializer_class)

    @action(detail=False, methods=["get"])
    def endpoints(self, request, *args, **kwargs):
        return self._endpoints()

    @action(detail=False, methods=["get"])
    def series(self, request, *args, **kwargs):
        return self._series()

    @action(detail=False, methods=["get"])
    def slo(self, request, *args, **kwargs):
        return self._slo()


# --- the operator: instance-wide -----------------------------------------------------------------------------------


class IsSuperuser(BasePermission):
    message = "Instance-wide analytics are for the platform operator (superusers)."

    def has_permission(self, request, view):
        if request.user and request.user.is_authenticated and not request.user.is_superuser:
            raise PermissionDenied(self.message)
        return bool(request.user and request.user.is_authenticated)


class _InstanceView(viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsSuperuser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method == "GET":
            # The operator's reads span every organization: each is on the record (platform chain).
            with transaction.atomic():
                audit_record(org=None, event=events.PERFORMANCE_READ_INSTANCE, actor=request.user,
                             metadata={"path": request.path})  # fmt: skip


@extend_schema_view(
    endpoints=extend_schema(summary="Instance-wide: per endpoint, slowest first", parameters=ENDPOINT_PARAMS,
                            responses={200: OpenApiTypes.OBJECT}),
    series=extend_schema(summary="Instance-wide performance or error time series", parameters=SERIES_PARAMS,
                         responses={200: OpenApiTypes.OBJECT}),
    slo=extend_schema(summary="Instance-wide SLO and error budget", parameters=SLO_PARAMS,
                      responses={200: OpenApiTypes.OBJECT}),
    tasks=extend_schema(summary="Celery tasks: runs, failures, durations, queue lag", parameters=PERIOD,
                        responses={200: OpenApiTypes.OBJECT}),
)  # fmt: skip
class InstancePerformanceViewSet(_PerformanceReads, _InstanceView):
    queryset = EndpointHour.objects.none()

    @action(detail=False, methods=["get"])
    def endpoints(self, request, *args, **kwargs):
        return self._endpoints()

    @action(detail=False, methods=["get"])
    def series(self, request, *args, **kwargs):
        return self._series()

    @action(detail=False, methods=["get"])
    def slo(self, request, *args, **kwargs):
        return self._slo()

    @action(detail=False, methods=["get"])
    def tasks(self, request, *args, **kwargs):
        data = self._read(s.PeriodSerializer)
        return Response({"start": data["start"], "end": data["end"],
                         "results": task_summary(start=data["start"], end=data["end"])})  # fmt: skip


@extend_schema_view(
    list=extend_schema(summary="chatapp's own server error issues", parameters=ISSUE_FILTERS),
    retrieve=extend_schema(summary="A server error issue with its latest event"),
)
class InstanceErrorIssueViewSet(_IssueActions, mixins.ListModelMixin, mixins.RetrieveModelMixin, _InstanceView):
    serializer_class = s.ErrorIssueSerializer
    pagination_class = IssuePagination

    def get_queryset(self):
        return issues_of(org=None)

    def filter_queryset(self, queryset):
        return _filtered_issues(queryset, self.request.query_params) if self.action == "list" else queryset

    def retrieve(self, request, *args, **kwargs):
        return Response(_detail(self.get_object(), self.get_serializer_context()))
