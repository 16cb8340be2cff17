"""Chat API: validate -> call a service or selector -> render. Every view is organization-scoped."""

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from accounts.models import Membership
from chatapp.chat import retention, selectors, services
from chatapp.chat.api.serializers import (
    ChannelCreateSerializer,
    ChannelMemberAddSerializer,
    ChannelMemberSerializer,
    ChannelSerializer,
    ChannelUpdateSerializer,
    LegalHoldCreateSerializer,
    LegalHoldSerializer,
    MessageRetentionPolicyInputSerializer,
    MessageRetentionPolicySerializer,
    MessageRetentionPreviewSerializer,
    MessageRetentionRunSerializer,
    MessageSerializer,
    MessageWriteSerializer,
)
from chatapp.chat.models import Channel, ChannelMember, LegalHold, Message, MessageRetentionPolicy, RetentionRun
from chatapp.chat.permissions import RETENTION_VIEW
from chatapp.kernel import filters
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from rbac.services import require_perm


class ChannelFilter(filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the channel's name.")
    is_member = filters.BooleanFilter(help_text="Only channels the caller belongs to (or not).")

    class Meta:
        model = Channel
        fields = ["is_private", "is_archived"]


@extend_schema_view(
    list=extend_schema(summary="List the channels you can see", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a channel", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Create a channel", request=ChannelCreateSerializer, parameters=[ORG_SLUG]),
    partial_update=extend_schema(
        summary="Rename a channel or change its topic or privacy",
        request=ChannelUpdateSerializer,
        parameters=[ORG_SLUG],
    ),
)
class ChannelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Channel.objects.all()
    serializer_class = ChannelSerializer
    filterset_class = ChannelFilter

    def scoped_queryset(self):
        return selectors.channels_visible_to(user=self.request.user, org=self.organization)

    def _render(self, channel, status_code=status.HTTP_200_OK):
        return Response(ChannelSerializer(self.get_queryset().get(pk=channel.pk)).data, status=status_code)

    def create(self, request, *args, **kwargs):
        data = ChannelCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel = services.channel_create(actor=request.user, org=self.organization, **data.validated_data)
        return self._render(channel, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        channel = self.get_object()  # a missing or foreign channel is a 404 before any 400
        data = ChannelUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel = services.channel_update(
            actor=request.user, org=self.organization, channel=channel, **data.validated_data
        )
        return self._render(channel)

    @extend_schema(summary="Archive a channel (it becomes read-only)", request=None, parameters=[ORG_SLUG])
    @action(detail=True, methods=["post"])
    def archive(self, request, *args, **kwargs):
        channel = services.channel_set_archived(
            actor=request.user, org=self.organization, channel=self.get_object(), archived=True
        )
        return self._render(channel)

    @extend_schema(summary="Unarchive a channel", request=None, parameters=[ORG_SLUG])
    @action(detail=True, methods=["post"])
    def unarchive(self, request, *args, **kwargs):
        channel = services.channel_set_archived(
            actor=request.user, org=self.organization, channel=self.get_object(), archived=False
        )
        return self._render(channel)


class ChannelChildViewSet(OrgScopedViewSet):
    """Base for resources under /channels/{channel_pk}/: the channel must be visible to the caller."""

    def get_channel(self) -> Channel:
        if not hasattr(self, "_channel"):
            channel = selectors.channel_visible_to(user=self.request.user, org=self.organization,
                                                   pk=self.kwargs["channel_pk"])  # fmt: skip
            if channel is None:
                raise NotFound
            self._channel = channel
        return self._channel


@extend_schema_view(
    list=extend_schema(summary="List a channel's members", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Add an organization member to a channel",
        request=ChannelMemberAddSerializer,
        parameters=[ORG_SLUG],
    ),
    destroy=extend_schema(summary="Remove someone from a channel (or leave it)", parameters=[ORG_SLUG]),
)
class ChannelMemberViewSet(mixins.ListModelMixin, ChannelChildViewSet):
    queryset = ChannelMember.objects.all()
    serializer_class = ChannelMemberSerializer
    lookup_field = "user_id"

    def scoped_queryset(self):
        return selectors.channel_members(channel=self.get_channel())

    def create(self, request, *args, **kwargs):
        channel = self.get_channel()
        data = ChannelMemberAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = (
            Membership.objects.filter(organization=self.organization, user_id=data.validated_data["user_id"])
            .select_related("user")
            .first()
        )
        if membership is None:
            raise ValidationError({"user_id": ["No such member in this organization."]})
        member, created = services.channel_member_add(
            actor=request.user, org=self.organization, channel=channel, user=membership.user
        )
        return Response(
            ChannelMemberSerializer(member).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def destroy(self, request, *args, **kwargs):
        member = self.get_object()
        services.channel_member_remove(
            actor=request.user, org=self.organization, channel=self.get_channel(), user=member.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageFilter(filters.FilterSet):
    author = django_filters.NumberFilter(field_name="author_id", help_text="Only messages by this user id.")
    since = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte", help_text="Posted at or after.")
    until = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt", help_text="Posted before.")

    class Meta:
        model = Message
        fields = []


@extend_schema_view(
    list=extend_schema(summary="List a channel's messages, newest first", parameters=[ORG_SLUG]),
    create=extend_schema(summary="Post a message", request=MessageWriteSerializer, parameters=[ORG_SLUG]),
)
class ChannelMessageViewSet(mixins.ListModelMixin, ChannelChildViewSet):
    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    filterset_class = MessageFilter

    def get_channel(self) -> Channel:
        channel = super().get_channel()
        if not selectors.channel_readable(user=self.request.user, org=self.organization, channel=channel):
            raise NotFound  # managers may see a private channel exists, but not read it
        return channel

    def scoped_queryset(self):
        return selectors.messages_of_channel(user=self.request.user, org=self.organization, channel=self.get_channel())

    def create(self, request, *args, **kwargs):
        channel = self.get_channel()
        data = MessageWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_post(
            actor=request.user, org=self.organization, channel=channel, body=data.validated_data["body"]
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    retrieve=extend_schema(summary="Show a message", parameters=[ORG_SLUG]),
    partial_update=extend_schema(summary="Edit your message", request=MessageWriteSerializer, parameters=[ORG_SLUG]),
    destroy=extend_schema(summary="Delete a message", parameters=[ORG_SLUG]),
)
class MessageViewSet(mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    filterset_class = MessageFilter

    def scoped_queryset(self):
        return selectors.messages_readable_by(user=self.request.user, org=self.organization)

    def partial_update(self, request, *args, **kwargs):
        message = self.get_object()
        data = MessageWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_edit(
            actor=request.user, org=self.organization, message=message, body=data.validated_data["body"]
        )
        return Response(MessageSerializer(message).data)

    def destroy(self, request, *args, **kwargs):
        services.message_delete(actor=request.user, org=self.organization, message=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Search messages in the channels you can read",
        parameters=[ORG_SLUG, OpenApiParameter("q", str, required=True, description="Text to look for.")],
    )
    @action(detail=False, methods=["get"])
    def search(self, request, *args, **kwargs):
        text = request.query_params.get("q", "").strip()
        if not 2 <= len(text) <= 200:
            raise ValidationError({"q": ["Give between 2 and 200 characters to search for."]})
        found = self.filter_queryset(selectors.message_search(user=request.user, org=self.organization, text=text))
        page = self.paginate_queryset(found)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)


# Message retention: /retention/policy, /retention/preview, /retention/holds/, /retention/runs/


def _policy_body(org) -> dict:
    rules = retention.rules_of(org)
    return {
        "enabled": rules.enabled,
        "days": rules.days,
        "action": rules.action,
        "overrides": [{"channel": pk, "days": days} for pk, days in sorted(rules.overrides.items())],
        "preview": retention.retention_preview(org=org, rules=rules),
    }


class RetentionPolicyViewSet(OrgScopedViewSet):
    """The organization's message retention: read with retention.view, change with retention.manage."""

    queryset = MessageRetentionPolicy.objects.none()  # for the schema: one policy per organization, no list
    serializer_class = MessageRetentionPolicySerializer

    @extend_schema(summary="Message retention, with what a run would remove now", parameters=[ORG_SLUG])
    def retrieve(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=RETENTION_VIEW)
        return Response(MessageRetentionPolicySerializer(_policy_body(self.organization)).data)

    @extend_schema(
        summary="Set message retention (preview it first with POST .../retention/preview)",
        request=MessageRetentionPolicyInputSerializer,
        parameters=[ORG_SLUG],
    )
    def update(self, request, *args, **kwargs):
        data = MessageRetentionPolicyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        retention.retention_policy_set(actor=request.user, org=self.organization, **data.validated_data)
        return Response(MessageRetentionPolicySerializer(_policy_body(self.organization)).data)

    @extend_schema(
        summary="Dry run: messages per channel a policy would remove now (nothing is saved)",
        request=MessageRetentionPolicyInputSerializer,
        responses=MessageRetentionPreviewSerializer,
        parameters=[ORG_SLUG],
    )
    def preview(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=RETENTION_VIEW)
        data = MessageRetentionPolicyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rules = retention.rules_from(org=self.organization, **data.validated_data)
        # Previewed as enabled: the point is to see what turning the policy on would do.
        rules = retention.Rules(enabled=True, days=rules.days, action=rules.action, overrides=rules.overrides)
        preview = retention.retention_preview(org=self.organization, rules=rules)
        return Response(MessageRetentionPreviewSerializer(preview).data)


@extend_schema_view(
    list=extend_schema(summary="Legal holds, active and released", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show a legal hold", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Place a legal hold on a channel or a user", request=LegalHoldCreateSerializer, parameters=[ORG_SLUG]
    ),
    release=extend_schema(summary="Release a legal hold (it stays listed)", request=None, parameters=[ORG_SLUG]),
)
class LegalHoldViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = LegalHold.objects.all()
    serializer_class = LegalHoldSerializer

    def scoped_queryset(self):
        require_perm(user=self.request.user, org=self.organization, perm=RETENTION_VIEW)
        return LegalHold.objects.for_org(self.organization).select_related("user")

    def create(self, request, *args, **kwargs):
        data = LegalHoldCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org, values = self.organization, data.validated_data
        target = {}
        if "channel_id" in values:
            # Any channel of the organization, private ones included: a hold does not need to read it.
            target["channel"] = Channel.objects.for_org(org).filter(pk=values["channel_id"]).first()
            if target["channel"] is None:
                raise ValidationError({"channel_id": ["No such channel in this organization."]})
        else:
            membership = Membership.objects.filter(organization=org, user_id=values["user_id"]).first()
            if membership is None:
                raise ValidationError({"user_id": ["No such member in this organization."]})
            target["user"] = membership.user
        hold = retention.legal_hold_place(actor=request.user, org=org, reason=values["reason"], **target)
        return Response(LegalHoldSerializer(hold).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def release(self, request, *args, **kwargs):
        hold = retention.legal_hold_release(actor=request.user, org=self.organization, hold=self.get_object())
        return Response(LegalHoldSerializer(hold).data)


@extend_schema_view(list=extend_schema(summary="Retention runs, newest first", parameters=[ORG_SLUG]))
class RetentionRunViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    queryset = RetentionRun.objects.all()
    serializer_class = MessageRetentionRunSerializer

    def scoped_queryset(self):
        require_perm(user=self.request.user, org=self.organization, perm=RETENTION_VIEW)
        return RetentionRun.objects.for_org(self.organization)
