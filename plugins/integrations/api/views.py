"""/api/v1/orgs/{org}/integrations/...: the catalogue, installations, outgoing and incoming webhooks, the delivery
log with replay, and message actions. Everything here needs org.manage (integrations send the organization's
data elsewhere); services check it again."""

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.permissions import ORG_MANAGE, ORG_VIEW
from chatapp.chat.models import Channel, Message
from chatapp.kernel import filters
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from plugins.integrations import catalogue, selectors
from plugins.integrations.api import serializers as s
from plugins.integrations.models import (
    Delivery,
    DeliveryStatus,
    IncomingWebhook,
    Installation,
    SlackImport,
    WebhookEndpoint,
)
from plugins.integrations.services import actions, incoming, installations, webhooks
from rbac.drf import HasPerm


class ManageOnly:
    permission_classes = [HasPerm.of(GET=ORG_MANAGE, POST=ORG_MANAGE, PATCH=ORG_MANAGE, DELETE=ORG_MANAGE)]


@extend_schema_view(list=extend_schema(summary="The integrations this server offers", parameters=[ORG_SLUG]))
class CatalogueViewSet(ManageOnly, OrgScopedViewSet):
    queryset = Installation.objects.all()
    serializer_class = s.CatalogueEntrySerializer
    pagination_class = None

    def scoped_queryset(self):
        return Installation.objects.all()

    def list(self, request, *args, **kwargs):
        installed = set(self.get_queryset().values_list("integration", flat=True))
        entries = [
            {"slug": i.slug, "manifest": i.manifest, "installed": i.slug in installed} for i in catalogue.integrations
        ]
        return Response(s.CatalogueEntrySerializer(entries, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="Installed integrations (secrets never shown)", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="One installed integration", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Install an integration", request=s.IntegrationInstallSerializer,
                         responses={201: s.InstallationCreatedSerializer}, parameters=[ORG_SLUG]),
    partial_update=extend_schema(summary="Configure an installed integration", request=s.ConfigureSerializer,
                                 parameters=[ORG_SLUG]),
    destroy=extend_schema(summary="Uninstall an integration", parameters=[ORG_SLUG]),
)  # fmt: skip
class InstallationViewSet(ManageOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Installation.objects.all()
    serializer_class = s.IntegrationInstallationSerializer
    pagination_class = None

    def scoped_queryset(self):
        return selectors.installations_of(org=self.organization)

    def create(self, request, *args, **kwargs):
        data = s.IntegrationInstallSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        installation, token = installations.integration_install(
            actor=request.user, org=self.organization, **data.validated_data
        )
        body = s.IntegrationInstallationSerializer(installation).data
        body.update(inbound_token=token, inbound_url=f"/hooks/{installation.integration}/{token}/")
        return Response(body, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        installation = self.get_object()
        data = s.ConfigureSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        installation = installations.integration_configure(
            actor=request.user, org=self.organization, installation=installation, **data.validated_data
        )
        return Response(s.IntegrationInstallationSerializer(installation).data)

    def destroy(self, request, *args, **kwargs):
        installations.integration_uninstall(actor=request.user, org=self.organization, installation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Replace the inbound URL's token (the old URL stops working)", request=None,
                   responses=s.InstallationCreatedSerializer, parameters=[ORG_SLUG])  # fmt: skip
    @action(detail=True, methods=["post"], url_path="rotate-inbound-url")
    def rotate_inbound_url(self, request, *args, **kwargs):
        installation = self.get_object()
        token = installations.integration_rotate_inbound_token(
            actor=request.user, org=self.organization, installation=installation
        )
        installation.refresh_from_db()
        body = s.IntegrationInstallationSerializer(installation).data
        body.update(inbound_token=token, inbound_url=f"/hooks/{installation.integration}/{token}/")
        return Response(body)

    @extend_schema(summary="Send a test notification (Slack in Block Kit, Teams as an Adaptive Card)", request=None,
                   responses=s.NotificationResultSerializer, parameters=[ORG_SLUG])  # fmt: skip
    @action(detail=True, methods=["post"], url_path="test-notification")
    def test_notification(self, request, *args, **kwargs):
        from plugins.integrations.services.notify import notify_one

        installation = self.get_object()
        error = notify_one(
            installation, title="chatapp test notification",
            text=f"{request.user.email} connected {self.organization.name} to this channel.",
        )  # fmt: skip
        return Response({"ok": not error, "error": error})


@extend_schema_view(
    list=extend_schema(summary="Outgoing webhook endpoints with their health", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="One outgoing webhook endpoint", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Add an outgoing webhook (its secret is shown once)",
                         request=s.EndpointWriteSerializer, responses={201: s.EndpointCreatedSerializer},
                         parameters=[ORG_SLUG]),
    partial_update=extend_schema(summary="Change an outgoing webhook", request=s.EndpointWriteSerializer,
                                 parameters=[ORG_SLUG]),
    destroy=extend_schema(summary="Delete an outgoing webhook and its delivery log", parameters=[ORG_SLUG]),
)  # fmt: skip
class EndpointViewSet(ManageOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = s.EndpointSerializer
    pagination_class = None  # a handful per organization

    def scoped_queryset(self):
        return selectors.endpoints_of(org=self.organization)

    def list(self, request, *args, **kwargs):
        endpoints = list(self.get_queryset())
        health = webhooks.endpoints_health(org=self.organization, endpoint_ids=[e.pk for e in endpoints])
        return Response(s.EndpointSerializer(endpoints, many=True, context={"health": health}).data)

    def _render(self, endpoint, code=status.HTTP_200_OK, **extra):
        health = webhooks.endpoints_health(org=self.organization, endpoint_ids=[endpoint.pk])
        body = s.EndpointSerializer(endpoint, context={"health": health}).data
        body.update(extra)
        return Response(body, status=code)

    def retrieve(self, request, *args, **kwargs):
        return self._render(self.get_object())

    def create(self, request, *args, **kwargs):
        data = s.EndpointWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = webhooks.endpoint_create(actor=request.user, org=self.organization, **data.validated_data)
        return self._render(endpoint, status.HTTP_201_CREATED, secret=secret)

    def partial_update(self, request, *args, **kwargs):
        endpoint = self.get_object()
        data = s.EndpointWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = webhooks.endpoint_update(
            actor=request.user, org=self.organization, endpoint=endpoint, **data.validated_data
        )
        return self._render(endpoint)

    def destroy(self, request, *args, **kwargs):
        webhooks.endpoint_delete(actor=request.user, org=self.organization, endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="New signing secret (shown once); the old one also signs during the overlap",
                   request=s.RotateSecretSerializer, responses=s.SecretSerializer, parameters=[ORG_SLUG])  # fmt: skip
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, *args, **kwargs):
        from datetime import timedelta

        endpoint = self.get_object()
        data = s.RotateSecretSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        secret = webhooks.endpoint_rotate_secret(
            actor=request.user, org=self.organization, endpoint=endpoint,
            overlap=timedelta(hours=data.validated_data["overlap_hours"]),
        )  # fmt: skip
        endpoint.refresh_from_db()
        return Response({"secret": secret, "rotation_overlap_until": endpoint.previous_secret_expires})

    @extend_schema(summary="Send a webhook.test event now; answers with the delivery and its attempt",
                   request=None, responses=s.DeliveryDetailSerializer, parameters=[ORG_SLUG])  # fmt: skip
    @action(detail=True, methods=["post"])
    def test(self, request, *args, **kwargs):
        delivery = webhooks.endpoint_test(actor=request.user, org=self.organization, endpoint=self.get_object())
        delivery = Delivery.objects.select_related("event").prefetch_related("attempt_log").get(pk=delivery.pk)
        return Response(s.DeliveryDetailSerializer(delivery).data)

    @extend_schema(summary="Replay the endpoint's deliveries created in a time range",
                   request=s.ReplayRangeSerializer, responses=s.ReplayResultSerializer,
                   parameters=[ORG_SLUG])  # fmt: skip
    @action(detail=True, methods=["post"])
    def replay(self, request, *args, **kwargs):
        endpoint = self.get_object()
        data = s.ReplayRangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        selection = webhooks.replay_selection(org=self.organization, endpoint=endpoint, **data.validated_data)
        copies = webhooks.deliveries_replay(actor=request.user, org=self.organization, deliveries=selection)
        return Response({"replayed": len(copies), "delivery_ids": [d.pk for d in copies]})


class DeliveryFilter(filters.FilterSet):
    endpoint = django_filters.NumberFilter(field_name="endpoint_id")
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter(field_name="event__event_type")
    event_id = django_filters.CharFilter(field_name="event__event_id")
    since = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte", help_text="At or after.")
    until = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt", help_text="Before.")

    class Meta:
        model = Delivery
        fields = []


@extend_schema_view(
    list=extend_schema(summary="The delivery log, newest first", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="One delivery with every attempt", parameters=[ORG_SLUG],
                           responses=s.DeliveryDetailSerializer),
)  # fmt: skip
class DeliveryViewSet(ManageOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Delivery.objects.all()
    serializer_class = s.WebhookDeliverySerializer
    filterset_class = DeliveryFilter

    def scoped_queryset(self):
        queryset = selectors.deliveries_of(org=self.organization)
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("attempt_log")
        return queryset

    def get_serializer_class(self):
        return s.DeliveryDetailSerializer if self.action == "retrieve" else s.WebhookDeliverySerializer

    @extend_schema(summary="Send this delivery's event again to its endpoint", request=None,
                   responses=s.ReplayResultSerializer, parameters=[ORG_SLUG])  # fmt: skip
    @action(detail=True, methods=["post"])
    def replay(self, request, *args, **kwargs):
        delivery = self.get_object()
        copies = webhooks.deliveries_replay(
            actor=request.user, org=self.organization, deliveries=Delivery.objects.filter(pk=delivery.pk)
        )
        return Response({"replayed": len(copies), "delivery_ids": [d.pk for d in copies]})


@extend_schema_view(
    list=extend_schema(summary="Incoming webhooks (URLs are shown once, at creation)", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Create an incoming webhook for a channel", request=s.IncomingWriteSerializer,
                         responses={201: s.IncomingCreatedSerializer}, parameters=[ORG_SLUG]),
    destroy=extend_schema(summary="Delete an incoming webhook (its URL stops working)", parameters=[ORG_SLUG]),
)  # fmt: skip
class IncomingViewSet(ManageOnly, mixins.ListModelMixin, OrgScopedViewSet):
    queryset = IncomingWebhook.objects.all()
    serializer_class = s.IncomingSerializer
    pagination_class = None

    def scoped_queryset(self):
        return selectors.incoming_of(org=self.organization)

    def create(self, request, *args, **kwargs):
        data = s.IncomingWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel = Channel.objects.for_org(self.organization).filter(pk=data.validated_data["channel_id"]).first()
        if channel is None:
            from rest_framework.exceptions import ValidationError

            raise ValidationError({"channel_id": ["Unknown channel."]})
        hook, token = incoming.incoming_create(
            actor=request.user, org=self.organization, name=data.validated_data["name"], channel=channel
        )
        body = s.IncomingSerializer(hook).data
        body["url"] = f"/hooks/incoming/{token}/"
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        incoming.incoming_delete(actor=request.user, org=self.organization, hook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    create_issue=extend_schema(summary="Create an issue in GitHub, GitLab or Jira from a chat message",
                               request=s.IssueFromMessageSerializer, responses={201: s.ExternalLinkSerializer},
                               parameters=[ORG_SLUG]),
    comment=extend_schema(summary="Post a chat message as a comment on a GitHub, GitLab or Jira issue",
                          request=s.CommentFromMessageSerializer, responses={201: s.ExternalLinkSerializer},
                          parameters=[ORG_SLUG]),
)  # fmt: skip
class MessageActionViewSet(OrgScopedViewSet):
    """Message actions: anyone who can read the message may use them (the organization's token does the call,
    so the action is audited with the person who asked)."""

    queryset = Installation.objects.all()
    serializer_class = s.ExternalLinkSerializer
    lookup_field = "integration"

    def scoped_queryset(self):
        return Installation.objects.filter(integration__in=actions.ISSUE_TRACKERS, enabled=True)

    def _message(self, message_id):
        from rest_framework.exceptions import NotFound

        from chatapp.chat.selectors import channel_readable

        message = Message.objects.for_org(self.organization).select_related("channel").filter(
            pk=message_id, deleted__isnull=True
        ).first()  # fmt: skip
        if message is None or not channel_readable(user=self.request.user, org=self.organization,
                                                   channel=message.channel):  # fmt: skip
            raise NotFound
        return message

    @action(detail=True, methods=["post"], url_path="issues")
    def create_issue(self, request, *args, **kwargs):
        installation = self.get_object()
        data = s.IssueFromMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = actions.issue_from_message(
            actor=request.user, installation=installation, message=self._message(data.validated_data["message_id"]),
            target=data.validated_data.get("target", ""), title=data.validated_data.get("title", ""),
        )  # fmt: skip
        return Response(result, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="comments")
    def comment(self, request, *args, **kwargs):
        installation = self.get_object()
        data = s.CommentFromMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = actions.comment_from_message(
            actor=request.user, installation=installation, message=self._message(data.validated_data["message_id"]),
            target=data.validated_data.get("target", ""), issue=data.validated_data["issue"],
        )  # fmt: skip
        return Response(result, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Slack workspace imports with progress", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="One Slack import: progress and what could not be mapped", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Upload a Slack export zip and start importing it",
                         request={"multipart/form-data": s.SlackImportUploadSerializer},
                         responses={202: s.SlackImportSerializer}, parameters=[ORG_SLUG]),
)  # fmt: skip
class SlackImportViewSet(ManageOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = SlackImport.objects.all()
    serializer_class = s.SlackImportSerializer
    parser_classes = [MultiPartParser]

    def scoped_queryset(self):
        return SlackImport.objects.for_org(self.organization)

    def create(self, request, *args, **kwargs):
        from plugins.integrations.slack.importer import import_start

        data = s.SlackImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = import_start(actor=request.user, org=self.organization, upload=data.validated_data["file"])
        return Response(s.SlackImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Resume an import that stopped (already imported items are skipped)", request=None,
                   responses=s.SlackImportSerializer, parameters=[ORG_SLUG])  # fmt: skip
    @action(detail=True, methods=["post"])
    def resume(self, request, *args, **kwargs):
        from plugins.integrations import tasks

        job = self.get_object()
        tasks.slack_import_run.delay(job.pk)
        return Response(s.SlackImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Preview a GitHub issue/pull request or GitLab issue/merge request URL (any member)",
        parameters=[ORG_SLUG, OpenApiParameter("url", str, required=True)],
        responses=s.LinkPreviewSerializer,
    )
)
class LinkPreviewViewSet(OrgScopedViewSet):
    queryset = Installation.objects.all()
    serializer_class = s.LinkPreviewSerializer
    permission_classes = [HasPerm.of(GET=ORG_VIEW)]

    def scoped_queryset(self):
        return Installation.objects.all()

    def retrieve(self, request, *args, **kwargs):
        preview = actions.link_preview(org=self.organization, url=request.query_params.get("url", ""))
        return Response({"preview": preview})
