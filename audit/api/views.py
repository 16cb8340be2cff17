"""Reading and verifying an organization's audit trail (holders of audit.read only; reading is recorded)."""

import django_filters
from django.db import transaction
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from audit import audit_events as events
from audit import registry as audit_registry
from audit.api.serializers import (
    AuditEventSerializer,
    CheckpointSerializer,
    PeriodSerializer,
    RetentionPolicySerializer,
    RetentionPolicyUpdateSerializer,
    VerifySerializer,
)
from audit.export import CONTENT_TYPES, EXPORT_FIELDS, FILE_SUFFIXES, export_lines, with_redactions
from audit.models import ActorType, AuditCheckpoint, AuditEvent, Outcome, RetentionPolicy
from audit.permissions import AUDIT_READ
from audit.registry import Category
from audit.retention import retention_policy_update
from audit.selectors import audit_events_of, audit_verify_organization, compliance_summary
from audit.services import audit_record
from audit.signing import public_keys
from chatapp.kernel import filters
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from chatapp.kernel.pagination import CursorPagination
from rbac.services import require_perm


class AuditEventFilter(filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte", help_text="At or after.")
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt", help_text="Before.")
    event = django_filters.CharFilter(method="by_event", help_text="An event name, or a prefix ending in '.'.")
    category = django_filters.ChoiceFilter(choices=Category.choices)
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    actor_type = django_filters.ChoiceFilter(choices=ActorType.choices)
    actor_id = django_filters.CharFilter()
    target_type = django_filters.CharFilter()
    target_id = django_filters.CharFilter()
    ip = django_filters.CharFilter(help_text="Exact client address.")

    class Meta:
        model = AuditEvent
        fields = []

    def by_event(self, queryset, name, value):
        if value.endswith("."):
            # The declared names with that prefix, not LIKE: equality uses the (organization, event_name, id) index,
            # a LIKE under a non-C collation cannot, and scanned every row of the organization for a rare prefix.
            return queryset.filter(event_name__in=[e.name for e in audit_registry.events if e.name.startswith(value)])
        return queryset.filter(event_name=value)


class SequencePagination(CursorPagination):
    # An organization has two chains (events and API calls) whose sequences overlap; ids are unique and, within a
    # chain, in sequence order (rows are inserted under the chain's lock).
    ordering = "-id"


@extend_schema_view(list=extend_schema(summary="The organization's audit events, newest first", parameters=[ORG_SLUG]))
class AuditEventViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = SequencePagination

    def scoped_queryset(self):
        require_perm(user=self.request.user, org=self.organization, perm=AUDIT_READ)
        return audit_events_of(org=self.organization)

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        with transaction.atomic():
            audit_record(
                org=self.organization, event=events.AUDIT_EVENTS_READ, actor=request.user,
                metadata={"filters": {k: v for k, v in request.query_params.items() if k != "cursor"}},
            )  # fmt: skip
        return response

    @extend_schema(
        summary="Export events as CSV, JSON Lines or OCSF events (streamed; the same filters as the list)",
        parameters=[
            ORG_SLUG,
            OpenApiParameter(
                "type",
                str,
                enum=sorted(CONTENT_TYPES),
                description="csv (default), jsonl, or ocsf (JSON Lines of OCSF 1.3 events)",
            ),
        ],
        responses={(200, "text/csv"): str, (200, "application/x-ndjson"): str},
    )
    @action(detail=False, methods=["get"])
    def export(self, request, *args, **kwargs):
        kind = request.query_params.get("type", "csv")
        if kind not in CONTENT_TYPES:
            raise ValidationError({"type": [f"Use one of: {', '.join(sorted(CONTENT_TYPES))}."]})
        events_read = self.filter_queryset(self.get_queryset()).order_by("sequence")
        with transaction.atomic():
            audit_record(
                org=self.organization, event=events.AUDIT_EXPORTED, actor=request.user,
                metadata={"type": kind, "filters": {k: v for k, v in request.query_params.items() if k != "type"}},
            )  # fmt: skip
        rows = with_redactions(events_read.values(*EXPORT_FIELDS).iterator(chunk_size=2000))
        response = StreamingHttpResponse(export_lines(rows, kind), content_type=CONTENT_TYPES[kind])
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        filename = f"audit-{self.organization.slug}-{stamp}.{FILE_SUFFIXES[kind]}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(
        summary="Compliance summary of a period (admin actions, permission and policy changes, failed logins...)",
        parameters=[
            ORG_SLUG,
            OpenApiParameter("since", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("until", OpenApiTypes.DATETIME, required=True),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"])
    def summary(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=AUDIT_READ)
        period = PeriodSerializer(data=request.query_params)
        period.is_valid(raise_exception=True)
        since, until = period.validated_data["since"], period.validated_data["until"]
        return Response(compliance_summary(org=self.organization, since=since, until=until))

    @extend_schema(summary="Verify the organization's hash chain", responses=VerifySerializer, parameters=[ORG_SLUG])
    @action(detail=False, methods=["get"])
    def verify(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=AUDIT_READ)
        result = audit_verify_organization(org=self.organization)
        with transaction.atomic():
            audit_record(
                org=self.organization, event=events.AUDIT_VERIFIED, actor=request.user, metadata=result,
                outcome=Outcome.SUCCESS if result["status"] == "ok" else Outcome.FAILURE,
            )  # fmt: skip
        return Response(result)


def _policy_body(org) -> dict:
    policy = RetentionPolicy.objects.filter(organization=org).first() or RetentionPolicy(organization=org)
    return {
        "category_days": {category: policy.days_for(category) for category in Category.values},
        "legal_hold": policy.legal_hold,
        "legal_hold_reason": policy.legal_hold_reason,
    }


class RetentionViewSet(OrgScopedViewSet):
    """The organization's audit retention: read with audit.read, change with org.manage (owners)."""

    queryset = RetentionPolicy.objects.none()  # for the schema: one policy per organization, no list
    serializer_class = RetentionPolicySerializer

    @extend_schema(summary="Audit retention per category and legal hold", parameters=[ORG_SLUG])
    def retrieve(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=AUDIT_READ)
        return Response(_policy_body(self.organization))

    @extend_schema(
        summary="Change audit retention or the legal hold", request=RetentionPolicyUpdateSerializer,
        parameters=[ORG_SLUG],
    )  # fmt: skip
    def partial_update(self, request, *args, **kwargs):
        data = RetentionPolicyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        retention_policy_update(actor=request.user, org=self.organization, **data.validated_data)
        return Response(_policy_body(self.organization))


@extend_schema_view(list=extend_schema(summary="Signed checkpoints of the organization's chain", parameters=[ORG_SLUG]))
class CheckpointViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    queryset = AuditCheckpoint.objects.all()
    serializer_class = CheckpointSerializer
    pagination_class = SequencePagination

    def scoped_queryset(self):
        require_perm(user=self.request.user, org=self.organization, perm=AUDIT_READ)
        return AuditCheckpoint.objects.filter(chain=self.organization.pk)

    @extend_schema(
        summary="Public keys that verify checkpoint signatures (Ed25519, hex)",
        responses={200: {"type": "object", "additionalProperties": {"type": "string"}}},
        parameters=[ORG_SLUG],
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def keys(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=AUDIT_READ)
        return Response(public_keys())


# --- streaming destinations ---------------------------------------------------------------------------------------

from rest_framework import status  # noqa: E402

from audit.api.serializers import (  # noqa: E402
    StreamDestinationCreateSerializer,
    StreamDestinationSerializer,
    StreamDestinationUpdateSerializer,
    StreamTestResultSerializer,
)
from audit.models import StreamDestination  # noqa: E402
from audit.streaming import services as streaming  # noqa: E402


@extend_schema_view(
    list=extend_schema(summary="Audit streaming destinations with delivery status and lag", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a streaming destination and its delivery status", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Add a streaming destination (webhook or syslog)", request=StreamDestinationCreateSerializer,
        parameters=[ORG_SLUG],
    ),
    partial_update=extend_schema(
        summary="Change a streaming destination", request=StreamDestinationUpdateSerializer, parameters=[ORG_SLUG]
    ),
    destroy=extend_schema(summary="Delete a streaming destination", parameters=[ORG_SLUG]),
)  # fmt: skip
class StreamDestinationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Read with audit.read; create, change, delete and test with org.manage (checked by the services)."""

    queryset = StreamDestination.objects.all()
    serializer_class = StreamDestinationSerializer
    pagination_class = None  # a handful per organization

    def scoped_queryset(self):
        require_perm(user=self.request.user, org=self.organization, perm=AUDIT_READ)
        return StreamDestination.objects.for_org(self.organization).order_by("name")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.organization is not None:
            context["heads"] = streaming.chain_heads(org=self.organization)
        return context

    def _render(self, destination, code=status.HTTP_200_OK):
        return Response(self.get_serializer(destination).data, status=code)

    def create(self, request, *args, **kwargs):
        data = StreamDestinationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        destination = streaming.stream_destination_create(
            actor=request.user, org=self.organization, **data.validated_data
        )
        return self._render(destination, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        destination = self.get_object()
        data = StreamDestinationUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        destination = streaming.stream_destination_update(
            actor=request.user, org=self.organization, destination=destination, **data.validated_data
        )
        return self._render(destination)

    def destroy(self, request, *args, **kwargs):
        streaming.stream_destination_delete(actor=request.user, org=self.organization, destination=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Send one test event to the destination now (its cursor is not moved)",
        request=None, responses=StreamTestResultSerializer, parameters=[ORG_SLUG],
    )  # fmt: skip
    @action(detail=True, methods=["post"])
    def test(self, request, *args, **kwargs):
        result = streaming.destination_send_test(
            actor=request.user, org=self.organization, destination=self.get_object()
        )
        return Response({"ok": result.ok, "error": result.error})
