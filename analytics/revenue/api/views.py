"""The operator's revenue API (/api/v1/instance/analytics/revenue/...) and the Stripe webhook endpoint.

Reads need `revenue.read` (or `revenue.manage`, or a superuser); everyone else signed in gets 403, anonymous
callers 401. The webhook is public and authenticated by its signature alone.
"""

import csv
import io

import structlog
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.revenue import access, selectors
from analytics.revenue.api import serializers as s
from analytics.revenue.audit_events import REPORT_EXPORTED
from analytics.revenue.services import stripe
from audit.services import Target, audit_record
from chatapp.kernel.errors import ProblemException, problem_response, problem_type

logger = structlog.get_logger(__name__)


class CanReadRevenue(BasePermission):
    message = f"You need the '{access.READ}' permission to see the instance's revenue."

    def has_permission(self, request, view):
        return access.can_read(request.user)


class RevenueView(APIView):
    permission_classes = [CanReadRevenue]

    def handle_exception(self, exc):
        if isinstance(exc, selectors.MissingExchangeRate):
            exc = ProblemException(
                str(exc), status_code=409, slug="missing-exchange-rate", title="Missing exchange rate"
            )
        return super().handle_exception(exc)

    @staticmethod
    def query(serializer_class, request):
        serializer = serializer_class(data=request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @staticmethod
    def movements(params):
        try:
            return selectors.mrr_movements(start=params["start"], end=params["end"], interval=params["interval"])
        except ValueError as exc:
            raise ValidationError({"interval": [str(exc)]}) from None


class MrrView(RevenueView):
    @extend_schema(
        summary="MRR and ARR at the end of each bucket (minor units of the reporting currency)",
        parameters=[s.RangeSerializer],
        responses=s.MrrSeriesSerializer,
    )
    def get(self, request):
        params = self.query(s.RangeSerializer, request)
        points = [
            {"bucket_start": row.bucket_start, "mrr": row.ending_mrr, "arr": row.ending_mrr * 12}
            for row in self.movements(params)
        ]
        return Response(
            s.MrrSeriesSerializer({"currency": _reporting(), "interval": params["interval"], "points": points}).data
        )


def _reporting() -> str:
    return settings.REVENUE_REPORTING_CURRENCY


CSV_COLUMNS = [
    "bucket_start", "starting_mrr", "new", "reactivation", "expansion", "contraction", "churned", "fx", "net_new",
    "ending_mrr", "customers_start", "new_customers", "reactivated_customers", "churned_customers", "customers_end",
    "logo_churn", "net_revenue_churn", "net_revenue_retention",
]  # fmt: skip


class MovementsView(RevenueView):
    @extend_schema(
        summary="The MRR movements table: new, expansion, contraction, churned, reactivation per bucket",
        parameters=[s.CsvTypeSerializer],
        responses={200: s.MovementsSerializer, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        params = self.query(s.CsvTypeSerializer, request)
        rows = self.movements(params)
        data = s.MovementSerializer(rows, many=True).data
        if params["type"] != "csv":
            return Response({"currency": _reporting(), "interval": params["interval"], "rows": data})
        with transaction.atomic():
            audit_record(
                org=None, event=REPORT_EXPORTED, actor=request.user, target=Target("revenue.report", "", "movements"),
                metadata={"start": str(params["start"]), "end": str(params["end"]), "interval": params["interval"]},
            )  # fmt: skip
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([*CSV_COLUMNS, "currency"])
        for row in data:
            writer.writerow([*(row[name] if row[name] is not None else "" for name in CSV_COLUMNS), _reporting()])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="mrr-movements-{stamp}.csv"'
        return response


class SummaryView(RevenueView):
    @extend_schema(
        summary="Revenue KPIs: MRR, ARR, customers, ARPA, last month's churn and retention, 12-month NRR, LTV",
        parameters=[s.SummaryQuerySerializer],
        responses=s.SummarySerializer,
    )
    def get(self, request):
        params = self.query(s.SummaryQuerySerializer, request)
        return Response(s.SummarySerializer(selectors.revenue_summary(at=params.get("at"))).data)


class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every subscription of the instance, newest first, with filters."""

    permission_classes = [CanReadRevenue]
    serializer_class = s.SubscriptionSerializer
    queryset = selectors.subscriptions_list()

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.subscriptions_list().prefetch_related("revisions__plan")
        filters = s.SubscriptionFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return selectors.subscriptions_list(filters=filters.validated_data)

    def get_serializer_class(self):
        return s.SubscriptionDetailSerializer if self.action == "retrieve" else s.SubscriptionSerializer

    @extend_schema(summary="Subscriptions, newest first", parameters=[s.SubscriptionFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One subscription with its MRR history (revisions)")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


class StripeWebhookView(APIView):
    """Stripe's endpoint: POST the event as Stripe signs it. Point a Stripe webhook endpoint here."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    parser_classes = []

    @extend_schema(
        summary="Receive a Stripe webhook event (signed with Stripe-Signature)",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("Stripe-Signature", str, OpenApiParameter.HEADER, required=True)],
        responses={200: s.WebhookResultSerializer},
        auth=[],
    )
    def post(self, request):
        try:
            event, duplicate = stripe.stripe_event_receive(
                body=request.body, signature_header=request.headers.get("Stripe-Signature", "")
            )
        except stripe.NotConfigured:
            logger.warning("revenue.stripe_webhook_not_configured")
            return problem_response(
                503, detail="Stripe webhooks are not configured on this server.", type_=problem_type("not-configured")
            )
        except stripe.SignatureError as exc:
            logger.warning("revenue.stripe_signature_refused", reason=str(exc))
            return problem_response(400, detail=str(exc), type_=problem_type("bad-signature"), title="Bad signature")
        except stripe.PayloadError as exc:
            return problem_response(400, detail=str(exc), type_=problem_type("malformed-request"))
        return Response({"received": True, "status": event.status, "duplicate": duplicate}, status=status.HTTP_200_OK)
