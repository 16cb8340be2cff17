"""Per-organization lifecycle of plugins: install with consent, configure, enable/disable, change version
(upgrade, downgrade, pin), channels, uninstall. Keyword-only, permission checked, audited, one transaction."""

import secrets
from uuid import uuid4

import jsonschema
import semver
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from accounts.models import Membership, Organization, User
from audit.services import audit_record
from chatapp.kernel.errors import Conflict
from plugins import audit_events as events
from plugins.manifest import Manifest, manifest_compatible
from plugins.models import Installation, Plugin, PluginData, PluginVersion
from plugins.permissions import PLUGINS_MANAGE
from rbac.services import forget_access, require_perm

SERVICE_DOMAIN = "plugins.chatapp.invalid"  # never deliverable: service identities cannot receive mail or log in


def version_installable(version: PluginVersion, *, org: Organization) -> str:
    """ "" if the organization may install this version, else why not."""
    plugin = version.plugin
    if plugin.private_to_id and plugin.private_to_id != org.pk:
        return "No such plugin."
    if version.status == PluginVersion.Status.YANKED:
        return f"{plugin.name} {version.version} was withdrawn by its publisher or the operator."
    if version.status != PluginVersion.Status.APPROVED and not settings.PLUGIN_DEV_MODE:
        state = version.get_status_display().lower()
        return f"{plugin.name} {version.version} is not approved for installation (it is {state})."
    return manifest_compatible(Manifest(version.manifest))


def latest_installable(plugin: Plugin, *, org: Organization) -> PluginVersion | None:
    candidates = [v for v in plugin.versions.all() if not version_installable(v, org=org)]
    return max(candidates, key=lambda v: semver.Version.parse(v.version), default=None)


def _check_consent(version: PluginVersion, consent) -> list[str]:
    requested = set(version.capabilities)
    missing = sorted(requested - set(consent or []))
    if missing:
        raise ValidationError(
            {"consent": [f"Consent to every capability the plugin requests; missing: {', '.join(missing)}."]}
        )
    return sorted(requested)


def _service_identity(*, org: Organization, plugin: Plugin) -> User:
    """A member of the organization that acts for the plugin: RBAC applies to it like to anyone."""
    user = User.objects.create_user(
        email=f"{plugin.plugin_id.replace('.', '-')}-{uuid4().hex[:12]}@{SERVICE_DOMAIN}",
        password=secrets.token_urlsafe(32),
        full_name=f"{plugin.name} (plugin)",
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    Membership.objects.create(organization=org, user=user, role=Membership.Role.MEMBER)
    return user


@transaction.atomic
def installation_create(
    *, actor: User, org: Organization, plugin: Plugin, version: PluginVersion | None = None, consent
) -> Installation:
    """Install a plugin in an organization; the admin consents to every capability it requests."""
    require_perm(user=actor, org=org, perm=PLUGINS_MANAGE)
    if version is None:
        version = latest_installable(plugin, org=org)
        if version is None:
            raise ValidationError({"plugin": [f"{plugin.name} has no version this organization can install."]})
    reason = version_installable(version, org=org)
    if reason:
        raise ValidationError({"version": [reason]})
    consented = _check_consent(version, consent)
    if Installation.objects.filter(organization=org, plugin=plugin).exists():
        raise Conflict(f"{plugin.name} is already installed in this organization.")
    installation = Installation.objects.create(
        organization=org, plugin=plugin, version=version, consented_capabilities=consented,
        service_user=_service_identity(org=org, plugin=plugin), installed_by=actor,
    )  # fmt: skip
    Plugin.objects.filter(pk=plugin.pk).update(install_count=F("install_count") + 1)
    audit_record(
        org=org, event=events.PLUGIN_INSTALLED, actor=actor, target=installation,
        metadata={"plugin": plugin.plugin_id, "version": version.version, "capabilities": consented,
                  "unapproved_dev_mode": version.status != PluginVersion.Status.APPROVED},
    )  # fmt: skip
    return installation


def _split_settings(manifest: Manifest, values: dict) -> tuple[dict, dict]:
    secret = manifest.secret_fields()
    return {k: v for k, v in values.items() if k not in secret}, {k: v for k, v in values.items() if k in secret}


def settings_validate(manifest: Manifest, values: dict) -> None:
    validator = jsonschema.Draft202012Validator(manifest.settings_schema)
    errors = {}
    for error in validator.iter_errors(values):
        field = "/".join(str(p) for p in error.absolute_path) or "settings"
        message = error.message
        if (
            error.validator in {"enum", "const", "pattern", "minLength", "maxLength"}
            and field in manifest.secret_fields()
        ):
            message = f"does not satisfy {error.validator}"  # never echo a secret back
        errors.setdefault(field, []).append(message)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def installation_configure(*, actor: User, org: Organization, installation: Installation, values: dict) -> Installation:
    """Change settings. Secret fields are write-only: leave one out to keep it, send null to clear it."""
    require_perm(user=actor, org=org, perm=PLUGINS_MANAGE)
    _same_org(org, installation)
    manifest = Manifest(installation.version.manifest)
    if not isinstance(values, dict):
        raise ValidationError({"settings": ["Send an object of settings."]})
    plain, secret = _split_settings(manifest, values)
    merged_secrets = {**installation.secrets, **secret}
    merged_secrets = {k: v for k, v in merged_secrets.items() if v is not None}
    merged = {**{k: v for k, v in plain.items() if v is not None}, **merged_secrets}
    settings_validate(manifest, merged)
    before = dict(installation.settings)
    installation.settings = {k: v for k, v in plain.items() if v is not None}
    installation.secrets = merged_secrets
    installation.save(update_fields=["settings", "secrets"])
    changed = sorted(
        k for k in set(before) | set(installation.settings) if before.get(k) != installation.settings.get(k)
    )
    audit_record(
        org=org, event=events.PLUGIN_CONFIGURED, actor=actor, target=installation,
        metadata={"changed": changed, "secrets_changed": sorted(secret)},
    )  # fmt: skip
    return installation


@transaction.atomic
def installation_set_enabled(
    *, actor: User, org: Organization, installation: Installation, enabled: bool
) -> Installation:
    require_perm(user=actor, org=org, perm=PLUGINS_MANAGE)
    _same_org(org, installation)
    if enabled:
        reason = version_installable(installation.version, org=org)
        if reason:
            raise ValidationError({"enabled": [reason]})
    if installation.enabled != enabled:
        installation.enabled = enabled
        installation.disabled_reason = "" if enabled else f"disabled by {actor.email}"
        installation.recent_failures = [] if enabled else installation.recent_failures
        installation.save(update_fields=["enabled", "disabled_reason", "recent_failures"])
        audit_record(
            org=org, event=events.PLUGIN_ENABLED if enabled else events.PLUGIN_DISABLED, actor=actor,
            target=installation, changes={"enabled": [not enabled, enabled]},
        )  # fmt: skip
    return installation


@transaction.atomic
def installation_change_version(
    *, actor: User, org: Organization, installation: Installation, version: PluginVersion, consent=None
) -> Installation:
    """Upgrade or downgrade. A version asking for capabilities not yet consented to waits (pending_version)
    until the admin consents to them; `consent` may give that consent at once."""
    require_perm(user=actor, org=org, perm=PLUGINS_MANAGE)
    _same_org(org, installation)
    if version.plugin_id != installation.plugin_id:
        raise ValidationError({"version": ["That is a version of another plugin."]})
    reason = version_installable(version, org=org)
    if reason:
        raise ValidationError({"version": [reason]})
    new = sorted(set(version.capabilities) - set(installation.consented_capabilities) - set(consent or []))
    if new:
        installation.pending_version = version
        installation.save(update_fields=["pending_version"])
        audit_record(
            org=org, event=events.PLUGIN_UPGRADE_PENDING, actor=actor, target=installation,
            metadata={"version": version.version, "new_capabilities": new},
        )  # fmt: skip
        return installation
    return _switch(actor=actor, org=org, installation=installation, version=version)


@transaction.atomic
def installation_consent_pending(
    *, actor: User, org: Organization, installation: Installation, consent
) -> Installation:
    """Consent to the capabilities a pending upgrade asks for, and switch to it."""
    require_perm(user=actor, org=org, perm=PLUGINS_MANAGE)
    _same_org(org, installation)
    version = installation.pending_version
    if version is None:
        raise Conflict("No version is waiting for consent.")
    _check_consent(version, list(consent or []) + installation.consented_capabilities)
    return _switch(actor=actor, org=org, installation=installation, version=version)


def _switch(*, actor, org, installation: Installation, version: PluginVersion) -> Installation:
    before = installation.version.version
    installation.version = version
    installation.pending_version = None
    installation.consented_capabilities = sorted(set(installation.consented_capabilities) | set(version.capabilities))
    installation.save(update_fields=["version", "pending_version", "consented_capabilities"])
    migration = _migration_for(version, before)
    audit_record(
        org=org, event=events.PLUGIN_VERSION_CHANGED, actor=actor, target=installation,
        changes={"version": [before, version.version]}, metadata={"data_migration": migration},
    )  # fmt: skip
    if migration:
        from plugins.runtime import data_migrate

        transaction.on_commit(
            lambda: data_migrate(installation_id=installation.pk, handler=migration, from_version=before)
        )
    return installation


def _migration_for(version: PluginVersion, before: str) -> str:
    """The data migration a version declares for stored data written by `before` (run by the plugin)."""
    for spec, handler in (version.manifest.get("data_migrations") or {}).items():
        try:
            if semver.Version.parse(before).match(spec):
                return handler
        except ValueError:
            continue
    return ""


@transaction.atomic
def installation_set_pinned(
    *, actor: User, org: Organization, installation: Installation, pinned: bool
) -> Installation:
    require_perm(user=actor, org=org, perm=PLUGINS_MANAGE)
    _same_org(org, installation)
    if installation.pinned != pinned:
        installation.pinned = pinned
        installation.save(update_fields=["pinned"])
        audit_record(
            org=org, event=events.PLUGIN_PINNED, actor=actor, target=installation,
            changes={"pinned": [not pinned, pinned]}, metadata={"version": installation.version.version},
        )  # fmt: skip
    return installation


@transaction.atomic
def installation_set_channels(*, actor: User, org: Organization, installation: Installation, channels) -> Installation:
    """The channels the plugin may read and post in; its service identity joins them."""
    from chatapp.chat.services import channel_member_add

    require_perm(user=actor, org=org, perm=PLUGINS_MANAGE)
    _same_org(org, installation, *channels)
    before = sorted(installation.channels.values_list("pk", flat=True))
    for channel in channels:
        channel_member_add(actor=actor, org=org, channel=channel, user=installation.service_user)
    installation.channels.set(channels)
    after = sorted(c.pk for c in channels)
    audit_record(
        org=org, event=events.PLUGIN_CHANNELS_GRANTED, actor=actor, target=installation,
        changes={"channels": [before, after]},
    )  # fmt: skip
    return installation


@transaction.atomic
def installation_delete(*, actor: User, org: Organization, installation: Installation, keep_data: bool) -> None:
    """Uninstall. The plugin's stored data is kept (for a later reinstall) or removed, as the admin chooses."""
    require_perm(user=actor, org=org, perm=PLUGINS_MANAGE)
    _same_org(org, installation)
    removed = 0
    if not keep_data:
        removed, _ = PluginData.objects.filter(organization=org, plugin=installation.plugin).delete()
    user = installation.service_user
    audit_record(
        org=org, event=events.PLUGIN_UNINSTALLED, actor=actor, target=installation,
        metadata={"plugin": installation.plugin.plugin_id, "keep_data": keep_data, "data_rows_removed": removed},
    )  # fmt: skip
    installation.delete()
    Membership.objects.filter(organization=org, user=user).update(is_active=False)
    User.objects.filter(pk=user.pk).update(is_active=False)
    forget_access(user, org)


def _same_org(org: Organization, *objects) -> None:
    for obj in objects:
        if obj.organization_id != org.pk:
            raise PermissionDenied("The object belongs to another organization.")
