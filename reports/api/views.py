"""Reports API: validate -> call a service or selector -> render. Every view is organization-scoped."""

import re

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from rbac.drf import HasPerm
from reports import delivery, schedules, services, triggers
from reports.api.serializers import (
    DeliverySerializer,
    PreviewSerializer,
    ReportCreateSerializer,
    ReportSerializer,
    ReportUpdateSerializer,
    RunSerializer,
    ScheduleSerializer,
    ScheduleWriteSerializer,
    TriggerSerializer,
    TriggerWriteSerializer,
)
from reports.models import Delivery, Report, ReportRun, Schedule, Trigger
from reports.permissions import REPORTS_MANAGE, REPORTS_VIEW
from reports.rendering import table_csv, table_json

READ_VIEW = HasPerm.of(GET=REPORTS_VIEW, POST=None, PATCH=None, DELETE=None)  # writes: the services check
READ_MANAGE = HasPerm.of(GET=REPORTS_MANAGE, POST=None, PATCH=None, DELETE=None)


def _report(org, pk) -> Report:
    report = Report.objects.for_org(org).filter(pk=pk).first()
    if report is None:
        raise ValidationError({"report": ["No such report in this organization."]})
    return report


@extend_schema_view(
    list=extend_schema(summary="List reports", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a report", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Create a report (from a template or from scratch)", request=ReportCreateSerializer,
                         parameters=[ORG_SLUG]),
    partial_update=extend_schema(summary="Change a report (saves a new version)", request=ReportUpdateSerializer,
                                 parameters=[ORG_SLUG]),
    destroy=extend_schema(summary="Delete a report", parameters=[ORG_SLUG]),
)  # fmt: skip
class ReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Report.objects.all()
    serializer_class = ReportSerializer
    permission_classes = [IsAuthenticated, READ_VIEW]

    def scoped_queryset(self):
        return Report.objects.all()

    def create(self, request, *args, **kwargs):
        data = ReportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.report_create(actor=request.user, org=self.organization, **data.validated_data)
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        report = self.get_object()
        data = ReportUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.report_update(actor=request.user, org=self.organization, report=report,
                                        **data.validated_data)  # fmt: skip
        return Response(ReportSerializer(report).data)

    def destroy(self, request, *args, **kwargs):
        services.report_delete(actor=request.user, org=self.organization, report=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Render the report now (progress in the run)", request=None, parameters=[ORG_SLUG],
                   responses={202: RunSerializer})  # fmt: skip
    @action(detail=True, methods=["post"])
    def runs(self, request, *args, **kwargs):
        run = services.run_request(actor=request.user, org=self.organization, report=self.get_object())
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(summary="List report runs", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a run and its progress", parameters=[ORG_SLUG]),
)
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = ReportRun.objects.all()
    serializer_class = RunSerializer
    permission_classes = [IsAuthenticated, READ_VIEW]
    filterset_fields = ["report", "status"]

    def scoped_queryset(self):
        return ReportRun.objects.all()

    @extend_schema(summary="Download the run's PDF (until it expires)", parameters=[ORG_SLUG],
                   responses={(200, "application/pdf"): OpenApiResponse(description="The PDF.")})  # fmt: skip
    @action(detail=True, methods=["get"])
    def download(self, request, *args, **kwargs):
        run = self.get_object()
        pdf = services.run_download(actor=request.user, org=self.organization, run=run)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="report-{run.report_id}-run-{run.pk}.pdf"'
        return response

    @extend_schema(summary="One table section of the run as CSV or JSON", parameters=[ORG_SLUG],
                   responses={(200, "text/csv"): OpenApiResponse(description="The table.")})  # fmt: skip
    @action(detail=True, methods=["get"], url_path=r"tables/(?P<name>[^/]+)")
    def table(self, request, name, *args, **kwargs):
        run = self.get_object()
        services.run_downloadable(run)
        computed = (run.data or {}).get("sections", [])
        match = re.fullmatch(r"(\d{1,3})\.(csv|json)", name)
        if match is None:
            raise NotFound("Tables are named <index>.csv or <index>.json.")
        index, fmt = int(match[1]), match[2]
        if index >= len(computed) or "rows" not in computed[index]["data"]:
            raise NotFound("No table section with that index.")
        if fmt == "csv":
            return HttpResponse(table_csv(computed[index]), content_type="text/csv; charset=utf-8")
        return HttpResponse(table_json(computed[index]), content_type="application/json")


@extend_schema_view(
    list=extend_schema(summary="List report schedules", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a schedule", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Schedule a report by e-mail", request=ScheduleWriteSerializer,
                         parameters=[ORG_SLUG]),
    partial_update=extend_schema(summary="Change, pause or resume a schedule", request=ScheduleWriteSerializer,
                                 parameters=[ORG_SLUG]),
    destroy=extend_schema(summary="Delete a schedule", parameters=[ORG_SLUG]),
)  # fmt: skip
class ScheduleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Schedule.objects.all()
    serializer_class = ScheduleSerializer
    permission_classes = [IsAuthenticated, READ_MANAGE]

    def scoped_queryset(self):
        return Schedule.objects.prefetch_related("recipients")

    def create(self, request, *args, **kwargs):
        data = ScheduleWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "report" not in values or "frequency" not in values or "time_of_day" not in values:
            raise ValidationError({name: ["This field is required."] for name in ("report", "frequency", "time_of_day")
                                   if name not in values})  # fmt: skip
        report = _report(self.organization, values.pop("report"))
        schedule = schedules.schedule_create(actor=request.user, org=self.organization, report=report,
                                             recipients=values.pop("recipients", []), **values)  # fmt: skip
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        schedule = self.get_object()
        data = ScheduleWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "report" in values:
            raise ValidationError({"report": ["A schedule's report cannot change; create another schedule."]})
        schedule = schedules.schedule_update(actor=request.user, org=self.organization, schedule=schedule, **values)
        return Response(ScheduleSerializer(schedule).data)

    def destroy(self, request, *args, **kwargs):
        schedules.schedule_delete(actor=request.user, org=self.organization, schedule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="The next five runs", parameters=[ORG_SLUG], responses=PreviewSerializer)
    @action(detail=True, methods=["get"])
    def preview(self, request, *args, **kwargs):
        return Response({"next_runs": schedules.next_runs(self.get_object())})

    @extend_schema(summary="Send a test to me", request=None, parameters=[ORG_SLUG],
                   responses={202: DeliverySerializer})  # fmt: skip
    @action(detail=True, methods=["post"])
    def test(self, request, *args, **kwargs):
        sent = delivery.send_test(actor=request.user, org=self.organization, schedule=self.get_object())
        return Response(DeliverySerializer(sent).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(summary="List threshold triggers", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a trigger", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Create a threshold trigger", request=TriggerWriteSerializer, parameters=[ORG_SLUG]),
    partial_update=extend_schema(summary="Change a trigger", request=TriggerWriteSerializer, parameters=[ORG_SLUG]),
    destroy=extend_schema(summary="Delete a trigger", parameters=[ORG_SLUG]),
)
class TriggerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Trigger.objects.all()
    serializer_class = TriggerSerializer
    permission_classes = [IsAuthenticated, READ_MANAGE]

    def scoped_queryset(self):
        return Trigger.objects.all()

    def create(self, request, *args, **kwargs):
        data = TriggerWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        missing = [name for name in ("name", "metric", "threshold") if name not in values]
        if missing:
            raise ValidationError({name: ["This field is required."] for name in missing})
        report_id = values.pop("report", None)
        report = _report(self.organization, report_id) if report_id else None
        trigger = triggers.trigger_create(actor=request.user, org=self.organization, report=report,
                                          recipients=values.pop("recipients", []), **values)  # fmt: skip
        return Response(TriggerSerializer(trigger).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        trigger = self.get_object()
        data = TriggerWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "report" in values or "recipients" in values:
            raise ValidationError({"report": ["Report and recipients are set when the trigger is created."]})
        trigger = triggers.trigger_update(actor=request.user, org=self.organization, trigger=trigger, **values)
        return Response(TriggerSerializer(trigger).data)

    def destroy(self, request, *args, **kwargs):
        triggers.trigger_delete(actor=request.user, org=self.organization, trigger=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="The delivery log", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="One delivery with its recipients", parameters=[ORG_SLUG]),
)
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Delivery.objects.all()
    serializer_class = DeliverySerializer
    permission_classes = [IsAuthenticated, READ_MANAGE]
    filterset_fields = ["schedule", "trigger", "status", "kind"]

    def scoped_queryset(self):
        return Delivery.objects.prefetch_related("targets")
