"""The plugin API: what a plugin may do in an organization, the same for built-in and sandboxed plugins.

A `PluginContext` is made for each delivery (an event, a command, an action) to one installation. Every method
is a host call: it is checked against the capabilities the organization's admin consented to (and that the
running version declares), then the chat services run with the installation's service identity, so RBAC
applies as to any member, and every call is recorded in the audit trail with the actor
`plugin:<id>@<version>`, allowed (plugin.api_call) or refused (plugin.api_denied).
"""

import json
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Length

from audit.models import Outcome
from audit.services import Actor, Target, audit_record
from plugins import audit_events as events
from plugins import outbound
from plugins.capabilities import capabilities
from plugins.manifest import Manifest
from plugins.models import Installation, PluginData
from rbac.services import has_perm

KV_KEY_MAX = 200
READ_LIMIT_MAX = 100


class PluginDenied(Exception):
    """A host call was refused (capability not consented, RBAC, undeclared host, bad argument, quota)."""


def host_call(capability: str | None):
    """Check the capability (and its RBAC permission), run the call, audit it either way.

    The audit row is written in the call's transaction; a refusal is recorded in a transaction of its own, so
    it stays even though the call raised.
    """

    def decorate(method):
        @wraps(method)
        def wrapper(self, *args, **kwargs):
            name = method.__name__
            try:
                self._check(capability)
                with transaction.atomic():
                    result, details = method(self, *args, **kwargs)
                    audit_record(
                        org=self.org, event=events.PLUGIN_API_CALL, actor=self.actor,
                        target=Target("plugin.api", name, name), metadata={"capability": capability, **details},
                    )  # fmt: skip
            except (PluginDenied, PermissionDenied, ValidationError, outbound.OutboundError) as exc:
                reason = _reason(exc)
                self.denials.append(f"{name}: {reason}")
                with transaction.atomic():
                    audit_record(
                        org=self.org, event=events.PLUGIN_API_DENIED, actor=self.actor,
                        target=Target("plugin.api", name, name), outcome=Outcome.DENIED,
                        metadata={"capability": capability, "reason": reason},
                    )  # fmt: skip
                raise PluginDenied(reason) from None
            return result

        wrapper.capability = capability
        return wrapper

    return decorate


def _reason(exc) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc) or type(exc).__name__


class PluginContext:
    """The plugin API for one delivery to one installation. Built-in plugins get it as `ctx`; the sandbox's host
    functions call it. `settings` holds the organization's settings for the plugin, secrets included."""

    def __init__(self, installation: Installation):
        self.installation = installation
        self.org = installation.organization
        self.manifest = Manifest(installation.version.manifest)
        self.plugin_id = installation.plugin.plugin_id
        self.version = installation.version.version
        self.actor = Actor.plugin(self.plugin_id, self.version)
        self.user = installation.service_user
        self.user.audit_actor = self.actor  # chat services record plugin:<id>@<version>, not the service user
        self.settings = {**installation.settings, **installation.secrets}
        self.denials: list[str] = []
        self.logs: list[str] = []
        self._granted_channels = None

    # checks -----------------------------------------------------------------------------------------------

    def _check(self, capability: str | None) -> None:
        if capability is None:
            return
        if capability not in self.manifest.capabilities:
            raise PluginDenied(f"the manifest does not declare the {capability} capability")
        if capability not in self.installation.consented_capabilities:
            raise PluginDenied(f"the organization did not consent to the {capability} capability")
        permission = capabilities[capability].permission
        if permission and not has_perm(user=self.user, org=self.org, perm=permission):
            raise PluginDenied(f"the plugin's service identity lacks the {permission} permission")

    def granted_channel_ids(self) -> set[int]:
        if self._granted_channels is None:
            self._granted_channels = set(self.installation.channels.values_list("pk", flat=True))
        return self._granted_channels

    def _channel(self, channel_id: int):
        from chatapp.chat.models import Channel

        if int(channel_id) not in self.granted_channel_ids():
            raise PluginDenied(f"channel {channel_id} was not granted to the plugin")
        return Channel.objects.get(pk=channel_id, organization=self.org)

    # the API ------------------------------------------------------------------------------------------------

    @host_call("channels.read")
    def list_channels(self) -> tuple[list[dict], dict]:
        from chatapp.chat.models import Channel

        rows = Channel.objects.filter(organization=self.org, pk__in=self.granted_channel_ids()).order_by("name")
        result = [{"id": c.pk, "name": c.name, "topic": c.topic, "is_private": c.is_private} for c in rows]
        return result, {"count": len(result)}

    @host_call("messages.read")
    def read_messages(self, channel_id: int, limit: int = 20) -> tuple[list[dict], dict]:
        from chatapp.chat.selectors import messages_of_channel

        if not 1 <= int(limit) <= READ_LIMIT_MAX:
            raise PluginDenied(f"limit must be between 1 and {READ_LIMIT_MAX}")
        channel = self._channel(channel_id)
        rows = messages_of_channel(user=self.user, org=self.org, channel=channel).order_by("-pk")[: int(limit)]
        result = [
            {"id": m.pk, "author_id": m.author_id, "body": m.body, "created": m.created.isoformat()} for m in rows
        ]
        return result, {"channel_id": channel.pk, "count": len(result)}

    @host_call("messages.post")
    def post_message(self, channel_id: int, body: str) -> tuple[int, dict]:
        from chatapp.chat.services import message_post

        channel = self._channel(channel_id)
        message = message_post(actor=self.user, org=self.org, channel=channel, body=body)
        return message.pk, {"channel_id": channel.pk, "message_id": message.pk}

    @host_call("members.read")
    def list_members(self) -> tuple[list[dict], dict]:
        from accounts.selectors import members_of

        rows = members_of(organization=self.org).filter(is_active=True).select_related("user")
        result = [{"id": m.user_id, "name": m.user.get_full_name()} for m in rows]
        return result, {"count": len(result)}

    @host_call("kv.store")
    def kv_get(self, key: str) -> tuple[str | None, dict]:
        row = PluginData.objects.filter(organization=self.org, plugin=self.installation.plugin, key=key).first()
        return (row.value if row else None), {"key": key[:KV_KEY_MAX]}

    @host_call("kv.store")
    def kv_set(self, key: str, value: str) -> tuple[bool, dict]:
        if not key or len(key) > KV_KEY_MAX:
            raise PluginDenied(f"a key has 1 to {KV_KEY_MAX} characters")
        stored = PluginData.objects.filter(organization=self.org, plugin=self.installation.plugin).exclude(key=key)
        used = stored.aggregate(total=Sum(Length("value")))["total"] or 0
        if used + len(value) + len(key) > settings.PLUGIN_KV_QUOTA_BYTES:
            raise PluginDenied(f"the plugin's storage quota ({settings.PLUGIN_KV_QUOTA_BYTES} bytes) is full")
        PluginData.objects.update_or_create(
            organization=self.org, plugin=self.installation.plugin, key=key, defaults={"value": value}
        )
        return True, {"key": key, "bytes": len(value)}

    @host_call("kv.store")
    def kv_delete(self, key: str) -> tuple[bool, dict]:
        deleted, _ = PluginData.objects.filter(organization=self.org, plugin=self.installation.plugin, key=key).delete()
        return bool(deleted), {"key": key[:KV_KEY_MAX]}

    @host_call("http.outbound")
    def http_request(self, method: str, url: str, headers: dict | None = None, body: str = "") -> tuple[dict, dict]:
        from urllib.parse import urlsplit

        host = (urlsplit(url).hostname or "").lower()
        if not outbound.host_allowed(host, self.manifest.http_domains):
            raise PluginDenied(f"{host or url!r} is not among the domains the manifest declares")
        response = outbound.request(method, url, headers=dict(headers or {}), body=(body or "").encode())
        return (
            {"status": response.status, "headers": response.headers, "body": response.body},
            {"method": method.upper(), "host": host, "status": response.status},
        )

    def log(self, message: str) -> None:
        """Not audited: kept with the delivery's result for the plugin's developers."""
        if len(self.logs) < 50:
            self.logs.append(str(message)[:500])


def count_call(installation: Installation, **values) -> None:
    Installation.objects.filter(pk=installation.pk).update(**{k: F(k) + v for k, v in values.items()})


def loads_json(text: str, *, what: str):
    try:
        return json.loads(text)
    except ValueError:
        raise PluginDenied(f"{what} is not valid JSON") from None
