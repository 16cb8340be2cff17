"""Plugins API: an organization's installations (/api/v1/orgs/{org}/plugins/...) and the marketplace
(/api/v1/marketplace/...): validate -> call a service or selector -> render."""

from django.db.models import Q
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSet

from chatapp.chat.selectors import channel_readable
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet
from chatapp.kernel.errors import ProblemException
from plugins import selectors
from plugins.api import serializers as s
from plugins.models import Component, Installation, Plugin, PluginVersion, Publisher, PublisherKey
from plugins.permissions import PLUGINS_MANAGE, PLUGINS_PUBLISH, PLUGINS_VIEW
from plugins.services import lifecycle, marketplace
from rbac.services import has_perm, require_perm

PLUGIN_ID = OpenApiParameter("plugin_id", str, OpenApiParameter.PATH, description="Reverse-DNS plugin id.")


class PluginFailed(ProblemException):
    status_code = 502
    problem_slug = "plugin-failed"
    problem_title = "The plugin failed"


class InstallationViewSet(OrgScopedViewSet):
    """The plugins installed in an organization and their lifecycle."""

    queryset = Installation.objects.all()
    serializer_class = s.InstallationSerializer
    pagination_class = None

    def scoped_queryset(self):
        return selectors.installations_of(org=self.organization)

    def _installation(self) -> Installation:
        installation = self.get_queryset().filter(plugin__plugin_id=self.kwargs["plugin_id"]).first()
        if installation is None:
            raise NotFound("That plugin is not installed in this organization.")
        return installation

    def _render(self, installation, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=installation.pk)
        return Response(s.InstallationSerializer(fresh).data, status=code)

    def _channels(self, ids):
        from chatapp.chat.models import Channel

        channels = list(Channel.objects.for_org(self.organization).filter(pk__in=ids))
        if len(channels) != len(set(ids)):
            raise ValidationError({"channel_ids": ["Unknown channel."]})
        return channels

    @extend_schema(summary="List installed plugins", parameters=[ORG_SLUG])
    def list(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=PLUGINS_VIEW)
        return Response(s.InstallationSerializer(self.get_queryset(), many=True).data)

    @extend_schema(summary="Show an installed plugin with its settings and metrics", parameters=[ORG_SLUG, PLUGIN_ID])
    def retrieve(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=PLUGINS_VIEW)
        return Response(s.InstallationSerializer(self._installation()).data)

    @extend_schema(
        summary="Install a plugin, consenting to the capabilities it requests",
        request=s.InstallSerializer, responses={201: s.InstallationSerializer}, parameters=[ORG_SLUG],
    )  # fmt: skip
    def create(self, request, *args, **kwargs):
        data = _valid(s.InstallSerializer, request.data)
        require_perm(user=request.user, org=self.organization, perm=PLUGINS_MANAGE)
        plugin = selectors.listing_get(plugin_id=data["plugin_id"], org=self.organization)
        if plugin is None:
            raise ValidationError({"plugin_id": ["No such plugin in the marketplace."]})
        version = None
        if data.get("version"):
            version = plugin.versions.filter(version=data["version"]).first()
            if version is None:
                raise ValidationError({"version": [f"{plugin.name} has no version {data['version']}."]})
        channels = self._channels(data["channel_ids"])
        installation = lifecycle.installation_create(
            actor=request.user, org=self.organization, plugin=plugin, version=version, consent=data["consent"]
        )
        if channels:
            lifecycle.installation_set_channels(
                actor=request.user, org=self.organization, installation=installation, channels=channels
            )
        return self._render(installation, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Uninstall a plugin", parameters=[ORG_SLUG, PLUGIN_ID, OpenApiParameter(
            "keep_data", bool, description="Keep the plugin's stored data for a later reinstall (default: remove)."
        )], responses={204: None},
    )  # fmt: skip
    def destroy(self, request, *args, **kwargs):
        keep = request.query_params.get("keep_data", "false").lower() in {"1", "true", "yes"}
        lifecycle.installation_delete(
            actor=request.user, org=self.organization, installation=self._installation(), keep_data=keep
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Change settings (secret fields are write-only)", request=s.SettingsSerializer,
                   responses=s.InstallationSerializer, parameters=[ORG_SLUG, PLUGIN_ID])  # fmt: skip
    def configure(self, request, *args, **kwargs):
        installation = self._installation()  # another organization's plugin: 404 before any validation
        data = _valid(s.SettingsSerializer, request.data)
        installation = lifecycle.installation_configure(
            actor=request.user, org=self.organization, installation=installation, values=data["values"]
        )
        return self._render(installation)

    @extend_schema(summary="Enable a plugin", request=None, responses=s.InstallationSerializer,
                   parameters=[ORG_SLUG, PLUGIN_ID])  # fmt: skip
    def enable(self, request, *args, **kwargs):
        return self._render(lifecycle.installation_set_enabled(
            actor=request.user, org=self.organization, installation=self._installation(), enabled=True))  # fmt: skip

    @extend_schema(summary="Disable a plugin", request=None, responses=s.InstallationSerializer,
                   parameters=[ORG_SLUG, PLUGIN_ID])  # fmt: skip
    def disable(self, request, *args, **kwargs):
        return self._render(lifecycle.installation_set_enabled(
            actor=request.user, org=self.organization, installation=self._installation(), enabled=False))  # fmt: skip

    @extend_schema(summary="Pin the running version", request=None, responses=s.InstallationSerializer,
                   parameters=[ORG_SLUG, PLUGIN_ID])  # fmt: skip
    def pin(self, request, *args, **kwargs):
        return self._render(lifecycle.installation_set_pinned(
            actor=request.user, org=self.organization, installation=self._installation(), pinned=True))  # fmt: skip

    @extend_schema(summary="Unpin the version", request=None, responses=s.InstallationSerializer,
                   parameters=[ORG_SLUG, PLUGIN_ID])  # fmt: skip
    def unpin(self, request, *args, **kwargs):
        return self._render(lifecycle.installation_set_pinned(
            actor=request.user, org=self.organization, installation=self._installation(), pinned=False))  # fmt: skip

    @extend_schema(
        summary="Upgrade or downgrade; new capabilities wait for consent", request=s.VersionChangeSerializer,
        responses=s.InstallationSerializer, parameters=[ORG_SLUG, PLUGIN_ID],
    )  # fmt: skip
    def change_version(self, request, *args, **kwargs):
        installation = self._installation()
        data = _valid(s.VersionChangeSerializer, request.data)
        version = installation.plugin.versions.filter(version=data["version"]).first()
        if version is None:
            raise ValidationError({"version": [f"{installation.plugin.name} has no version {data['version']}."]})
        return self._render(lifecycle.installation_change_version(
            actor=request.user, org=self.organization, installation=installation, version=version,
            consent=data["consent"]))  # fmt: skip

    @extend_schema(summary="Consent to the capabilities of the pending version", request=s.ConsentSerializer,
                   responses=s.InstallationSerializer, parameters=[ORG_SLUG, PLUGIN_ID])  # fmt: skip
    def consent(self, request, *args, **kwargs):
        installation = self._installation()
        data = _valid(s.ConsentSerializer, request.data)
        return self._render(lifecycle.installation_consent_pending(
            actor=request.user, org=self.organization, installation=installation, consent=data["consent"]))  # fmt: skip

    @extend_schema(summary="Set the channels the plugin may use", request=s.ChannelsSerializer,
                   responses=s.InstallationSerializer, parameters=[ORG_SLUG, PLUGIN_ID])  # fmt: skip
    def set_channels(self, request, *args, **kwargs):
        installation = self._installation()
        data = _valid(s.ChannelsSerializer, request.data)
        return self._render(lifecycle.installation_set_channels(
            actor=request.user, org=self.organization, installation=installation,
            channels=self._channels(data["channel_ids"])))  # fmt: skip

    @extend_schema(summary="Run a plugin's slash command", request=s.CommandSerializer,
                   responses=s.CommandResultSerializer, parameters=[ORG_SLUG])  # fmt: skip
    def command(self, request, *args, **kwargs):
        from plugins.manifest import Manifest
        from plugins.runtime import DeliveryFailed, deliver

        data = _valid(s.CommandSerializer, request.data)
        from chatapp.chat.models import Channel

        channel = Channel.objects.for_org(self.organization).filter(pk=data["channel_id"]).first()
        if channel is None or not channel_readable(user=request.user, org=self.organization, channel=channel):
            raise ValidationError({"channel_id": ["Unknown channel."]})
        for installation in self.get_queryset().filter(enabled=True):
            commands = {c["command"] for c in Manifest(installation.version.manifest).slash_commands}
            if data["command"] in commands and "commands.register" in installation.consented_capabilities:
                break
        else:
            raise ValidationError({"command": [f"No enabled plugin provides {data['command']}."]})
        payload = {"text": data["text"], "channel_id": channel.pk, "user_id": request.user.pk}
        try:
            response = deliver(installation, kind="command", name=data["command"], payload=payload)
        except DeliveryFailed as exc:
            raise PluginFailed(f"{installation.plugin.name} failed: {exc}") from None
        return Response({"plugin_id": installation.plugin.plugin_id, "response": response})


def _valid(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class OrgListingViewSet(OrgScopedViewSet):
    """The marketplace as an organization sees it (its private plugins included), and its feedback."""

    queryset = Plugin.objects.all()
    serializer_class = s.ListingSerializer

    def scoped_queryset(self):  # listings are not tenant rows; this view set never lists through get_queryset
        raise NotImplementedError

    def _plugin(self):
        plugin = selectors.listing_get(plugin_id=self.kwargs["plugin_id"], org=self.organization)
        if plugin is None:
            raise NotFound()
        return plugin

    @extend_schema(summary="Rate and review a listing (org admins)", request=s.ReviewSerializer, responses={201: None},
                   parameters=[ORG_SLUG, PLUGIN_ID])  # fmt: skip
    def review(self, request, *args, **kwargs):
        plugin = self._plugin()
        data = _valid(s.ReviewSerializer, request.data)
        marketplace.listing_review(actor=request.user, org=self.organization, plugin=plugin, **data)
        return Response(status=status.HTTP_201_CREATED)

    @extend_schema(summary="Report a listing for abuse", request=s.ReportSerializer, responses={201: None},
                   parameters=[ORG_SLUG, PLUGIN_ID])  # fmt: skip
    def report(self, request, *args, **kwargs):
        plugin = self._plugin()
        data = _valid(s.ReportSerializer, request.data)
        marketplace.listing_report(actor=request.user, org=self.organization, plugin=plugin, **data)
        return Response(status=status.HTTP_201_CREATED)


class MarketplaceViewSet(ViewSet):
    """Public catalogue (any signed-in user): search and filter by category and capability."""

    @extend_schema(
        summary="Search the marketplace", responses=s.ListingSerializer(many=True),
        parameters=[OpenApiParameter("q", str), OpenApiParameter("category", str),
                    OpenApiParameter("capability", str, enum=s.CAPABILITY_CODES)],
    )  # fmt: skip
    def list(self, request):
        rows = selectors.listings(
            query=request.query_params.get("q", "")[:100], category=request.query_params.get("category", "")[:40],
            capability=request.query_params.get("capability", "")[:40],
        )  # fmt: skip
        return Response(s.ListingSerializer(rows[:200], many=True).data)

    @extend_schema(summary="Show a listing with its versions", responses=s.ListingDetailSerializer,
                   parameters=[PLUGIN_ID])  # fmt: skip
    def retrieve(self, request, plugin_id=None):
        plugin = selectors.listing_get(plugin_id=plugin_id)
        if plugin is None or not plugin.versions.filter(status=PluginVersion.Status.APPROVED).exists():
            raise NotFound()
        row = selectors.listings(query="").filter(pk=plugin.pk).first() or plugin
        row.versions_prefetched = plugin.versions.all()
        return Response(s.ListingDetailSerializer(plugin if not hasattr(row, "rating") else _merge(plugin, row)).data)


def _merge(plugin, row):
    plugin.rating, plugin.review_count = row.rating, row.review_count
    return plugin


def _publisher(request, slug) -> Publisher:
    """A publisher the caller manages (plugins.publish in its organization); otherwise 404."""
    publisher = Publisher.objects.select_related("organization").filter(slug=slug).first()
    if publisher is None or not has_perm(user=request.user, org=publisher.organization, perm=PLUGINS_PUBLISH):
        raise Http404
    return publisher


class PublisherViewSet(ViewSet):
    """Publishers, signing keys and uploads: for members holding plugins.publish in the publisher's org."""

    @extend_schema(
        summary="Register a publisher for an organization", request=s.PublisherCreateSerializer,
        responses={201: s.PublisherSerializer}, parameters=[OpenApiParameter("org", str, required=True)],
    )  # fmt: skip
    def create(self, request):
        from accounts.selectors import membership_for_slug

        data = _valid(s.PublisherCreateSerializer, request.data)
        membership = membership_for_slug(user=request.user, org_slug=request.query_params.get("org", ""))
        if membership is None:
            raise ValidationError({"org": ["Name an organization you belong to (?org=<slug>)."]})
        publisher = marketplace.publisher_create(actor=request.user, org=membership.organization, **data)
        return Response(s.PublisherSerializer(publisher).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Show a publisher and its keys", responses=s.PublisherSerializer)
    def retrieve(self, request, slug=None):
        return Response(s.PublisherSerializer(_publisher(request, slug)).data)

    @extend_schema(summary="Add a signing key (rotation: retire the others)", request=s.KeyAddSerializer,
                   responses={201: s.PublisherKeySerializer})  # fmt: skip
    def add_key(self, request, slug=None):
        data = _valid(s.KeyAddSerializer, request.data)
        key = marketplace.publisher_key_add(actor=request.user, publisher=_publisher(request, slug), **data)
        return Response(s.PublisherKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke a signing key (its versions are yanked)", request=s.KeyRevokeSerializer,
                   responses=s.PublisherKeySerializer)  # fmt: skip
    def revoke_key(self, request, slug=None, key_id=None):
        data = _valid(s.KeyRevokeSerializer, request.data)
        key = PublisherKey.objects.filter(publisher=_publisher(request, slug), key_id=key_id).first()
        if key is None:
            raise NotFound()
        return Response(s.PublisherKeySerializer(marketplace.publisher_key_revoke(
            actor=request.user, key=key, reason=data["reason"])).data)  # fmt: skip

    @extend_schema(summary="List the publisher's submissions", responses=s.SubmissionSerializer(many=True))
    def submissions(self, request, slug=None):
        publisher = _publisher(request, slug)
        rows = PluginVersion.objects.filter(plugin__publisher=publisher).select_related("plugin", "key")
        return Response(s.SubmissionSerializer(rows.order_by("-created")[:200], many=True).data)

    @extend_schema(summary="Upload a signed package", request={"multipart/form-data": s.UploadSerializer},
                   responses={201: s.SubmissionSerializer})  # fmt: skip
    def upload(self, request, slug=None):
        publisher = _publisher(request, slug)
        data = _valid(s.UploadSerializer, request.data)
        version = marketplace.package_upload(
            actor=request.user, publisher=publisher, data=data["package"].read(), signature=data["signature"],
            key_id=data["key_id"], private=data["private"],
        )  # fmt: skip
        version.refresh_from_db()
        return Response(s.SubmissionSerializer(version).data, status=status.HTTP_201_CREATED)


class ReviewQueueViewSet(ViewSet):
    """The approval workflow: marketplace operators (staff) and, for private plugins, the org's managers."""

    def _version(self, pk):
        version = (
            PluginVersion.objects.select_related("plugin__publisher__organization", "plugin__private_to")
            .filter(pk=pk)
            .first()
        )
        if version is None or version.plugin.kind != Plugin.Kind.WASM:
            raise NotFound()
        return version

    @extend_schema(summary="Versions waiting for review", responses=s.SubmissionSerializer(many=True))
    def list(self, request):
        if not request.user.is_staff:
            raise PermissionDenied("Only the marketplace's operators see the review queue.")
        rows = PluginVersion.objects.filter(
            Q(status__in=[PluginVersion.Status.SCANNED, PluginVersion.Status.IN_REVIEW]), plugin__private_to=None
        ).select_related("plugin", "key")
        return Response(s.SubmissionSerializer(rows.order_by("created")[:200], many=True).data)

    def _decide(self, request, pk, service, **kwargs):
        version = service(actor=request.user, version=self._version(pk), **kwargs)
        return Response(s.SubmissionSerializer(version).data)

    @extend_schema(summary="Start reviewing a scanned version", request=None, responses=s.SubmissionSerializer)
    def start(self, request, pk=None):
        return self._decide(request, pk, marketplace.review_start)

    @extend_schema(summary="Approve a version", request=None, responses=s.SubmissionSerializer)
    def approve(self, request, pk=None):
        return self._decide(request, pk, marketplace.version_approve)

    @extend_schema(summary="Reject a version, with the reason", request=s.DecisionSerializer,
                   responses=s.SubmissionSerializer)  # fmt: skip
    def reject(self, request, pk=None):
        data = _valid(s.DecisionSerializer, request.data)
        return self._decide(request, pk, marketplace.version_reject, reason=data["reason"])

    @extend_schema(summary="Yank a version (disabled everywhere)", request=s.DecisionSerializer,
                   responses=s.SubmissionSerializer)  # fmt: skip
    def yank(self, request, pk=None):
        data = _valid(s.DecisionSerializer, request.data)
        return self._decide(request, pk, marketplace.version_yank, reason=data["reason"] or "withdrawn")


PublisherViewSet.parser_classes = [MultiPartParser, *APIView.parser_classes]


class ComponentViewSet(OrgScopedViewSet):
    """The component builder: save versions (samples are snapshot-tested), preview live, publish."""

    queryset = Component.objects.all()
    serializer_class = s.ComponentSerializer
    pagination_class = None

    def scoped_queryset(self):
        return Component.objects.all()

    @extend_schema(summary="List the organization's components (latest versions)", parameters=[ORG_SLUG])
    def list(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=PLUGINS_VIEW)
        latest = {}
        for component in self.get_queryset().order_by("key", "-version"):
            latest.setdefault(component.key, component)
        return Response(s.ComponentSerializer(list(latest.values()), many=True).data)

    @extend_schema(summary="Save a new version of a component", request=s.ComponentSaveSerializer,
                   responses={201: s.ComponentSerializer}, parameters=[ORG_SLUG])  # fmt: skip
    def create(self, request, *args, **kwargs):
        from plugins.services.components import component_save

        data = dict(_valid(s.ComponentSaveSerializer, request.data))
        component = component_save(actor=request.user, org=self.organization, **data)
        return Response(s.ComponentSerializer(component).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Render a component on sample inputs (live preview)", request=s.ComponentPreviewSerializer,
                   responses={200: s.ComponentPreviewResultSerializer}, parameters=[ORG_SLUG])  # fmt: skip
    def preview(self, request, *args, **kwargs):
        from plugins.components import ComponentError, render

        require_perm(user=request.user, org=self.organization, perm=PLUGINS_PUBLISH)
        data = _valid(s.ComponentPreviewSerializer, request.data)
        try:
            rendered = render(output=data["output"], template=data["template"], input_schema=data["input_schema"],
                              inputs=data["inputs"])  # fmt: skip
        except ComponentError as exc:
            raise ValidationError(exc.errors) from None
        return Response({"output": rendered})

    @extend_schema(summary="Show a component's latest version and its generated docs",
                   parameters=[ORG_SLUG, OpenApiParameter("key", str, OpenApiParameter.PATH)])  # fmt: skip
    def retrieve(self, request, *args, **kwargs):
        require_perm(user=request.user, org=self.organization, perm=PLUGINS_VIEW)
        return Response(s.ComponentSerializer(self._latest()).data)

    @extend_schema(summary="Publish the latest version to the marketplace", request=None,
                   responses=s.ComponentSerializer,
                   parameters=[ORG_SLUG, OpenApiParameter("key", str, OpenApiParameter.PATH)])  # fmt: skip
    def publish(self, request, *args, **kwargs):
        from plugins.services.components import component_publish

        component = component_publish(actor=request.user, org=self.organization, component=self._latest())
        return Response(s.ComponentSerializer(component).data)

    def _latest(self):
        component = self.get_queryset().filter(key=self.kwargs["key"]).order_by("-version").first()
        if component is None:
            raise NotFound()
        return component


class MarketplaceComponentViewSet(ViewSet):
    @extend_schema(summary="Published components", responses=s.ComponentSerializer(many=True))
    def list(self, request):
        rows = Component.objects.filter(published=True).order_by("key", "-version")[:200]
        return Response(s.ComponentSerializer(rows, many=True).data)
