"""Install, configure and uninstall integrations in an organization.

Settings are validated against the manifest's JSON Schema; the fields the schema marks `writeOnly` are secrets:
they are stored encrypted with the organization's key in `Installation.secrets`, never returned by the API,
never audited (the audit row says which secret names changed, not their values).
"""

import jsonschema
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record, diff
from chatapp.chat.models import Channel
from plugins.integrations import audit_events as events
from plugins.integrations import catalogue
from plugins.integrations.models import Installation
from plugins.integrations.services.common import bot_user, digest, new_token, require_manage


def _integration(slug: str) -> catalogue.Integration:
    integration = catalogue.get(slug)
    if integration is None:
        raise ValidationError({"integration": [f"Unknown integration {slug!r}."]})
    return integration


def _validate(integration: catalogue.Integration, org, values: dict) -> None:
    validator = jsonschema.Draft202012Validator(integration.manifest["settings_schema"])
    errors = sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path))
    if errors:
        messages = []
        for error in errors[:10]:
            where = "/".join(str(p) for p in error.absolute_path) or "settings"
            # a secret's value must never be echoed back in an error
            detail = (
                "invalid value"
                if any(str(p) in integration.secret_fields for p in error.absolute_path)
                else (error.message)
            )
            messages.append(f"{where}: {detail}")
        raise ValidationError({"settings": messages})
    channel_ids = {route["channel_id"] for route in values.get("routes", [])}
    channel_ids |= {m["channel_id"] for m in values.get("mirrors", [])}
    if values.get("channel_id"):
        channel_ids.add(values["channel_id"])
    known = set(Channel.objects.for_org(org).filter(pk__in=channel_ids).values_list("pk", flat=True))
    if channel_ids - known:
        raise ValidationError({"settings": [f"Unknown channels: {sorted(channel_ids - known)}."]})


def _split(integration: catalogue.Integration, values: dict) -> tuple[dict, dict]:
    secret = {k: v for k, v in values.items() if k in integration.secret_fields}
    plain = {k: v for k, v in values.items() if k not in integration.secret_fields}
    return plain, secret


@transaction.atomic
def integration_install(*, actor, org, integration: str, settings: dict | None = None) -> tuple[Installation, str]:
    """Install an integration (org.manage). Returns the installation and its inbound token, shown once: the
    token is the secret part of /hooks/<integration>/<token>/ (only its digest is kept)."""
    require_manage(actor, org)
    spec = _integration(integration)
    values = dict(settings or {})
    _validate(spec, org, values)
    if Installation.objects.filter(organization=org, integration=integration).exists():
        raise ValidationError({"integration": ["Already installed; configure it instead."]})
    plain, secret = _split(spec, values)
    token = new_token()
    installation = Installation.objects.create(
        organization=org, integration=integration, settings=plain, secrets=secret, installed_by=actor,
        bot_user=bot_user(org=org, slug=integration, name=spec.manifest["name"]),
        inbound_token_digest=digest(token), inbound_token_hint=token[-4:],
    )  # fmt: skip
    audit_record(
        org=org, event=events.INSTALLED, actor=actor, target=installation, changes=diff({}, plain),
        metadata={"secrets_set": sorted(secret)},
    )  # fmt: skip
    return installation, token


@transaction.atomic
def integration_configure(*, actor, org, installation: Installation, settings: dict, enabled: bool | None = None):
    """Change settings (org.manage): given keys replace theirs, a null removes one; secrets left out are kept."""
    require_manage(actor, org)
    installation = Installation.objects.select_for_update().get(pk=installation.pk, organization=org)
    spec = _integration(installation.integration)
    plain, secret = dict(installation.settings), dict(installation.secrets or {})
    for key, value in settings.items():
        target = secret if key in spec.secret_fields else plain
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    _validate(spec, org, {**plain, **secret})
    changed_secrets = sorted(k for k in settings if k in spec.secret_fields)
    before = {**installation.settings, "enabled": installation.enabled}
    installation.settings, installation.secrets = plain, secret
    if enabled is not None:
        installation.enabled = enabled
    installation.save()
    audit_record(
        org=org, event=events.CONFIGURED, actor=actor, target=installation,
        changes=diff(before, {**plain, "enabled": installation.enabled}),
        metadata={"secrets_changed": changed_secrets} if changed_secrets else None,
    )  # fmt: skip
    return installation


@transaction.atomic
def integration_rotate_inbound_token(*, actor, org, installation: Installation) -> str:
    """A new inbound URL token (the old URL stops working at once); returned once."""
    require_manage(actor, org)
    token = new_token()
    Installation.objects.filter(pk=installation.pk, organization=org).update(
        inbound_token_digest=digest(token), inbound_token_hint=token[-4:]
    )
    audit_record(
        org=org, event=events.CONFIGURED, actor=actor, target=installation, metadata={"inbound_url_rotated": True}
    )
    return token


@transaction.atomic
def integration_uninstall(*, actor, org, installation: Installation) -> None:
    require_manage(actor, org)
    audit_record(
        org=org, event=events.UNINSTALLED, actor=actor, target=installation, changes=diff(installation.settings, {})
    )
    Installation.objects.filter(pk=installation.pk, organization=org).delete()


def installation_for_inbound(*, integration: str, token: str) -> Installation | None:
    """The enabled installation whose inbound URL carries this token (organization active), or None."""
    if not token or len(token) > 100:
        return None
    return (
        Installation.objects.select_related("organization", "bot_user")
        .filter(integration=integration, inbound_token_digest=digest(token), enabled=True, organization__is_active=True)
        .first()
    )
