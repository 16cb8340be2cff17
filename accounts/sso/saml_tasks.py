"""Scheduled SAML upkeep (Celery beat, daily): follow IdP metadata (certificate rollovers) and warn before an IdP
signing certificate expires. Both are safe to rerun."""

import datetime
import hashlib

from celery import shared_task
from django.conf import settings
from django.db import transaction

from accounts.models import IdentityProvider
from accounts.sso import saml, saml_events
from audit.services import Actor, audit_record

ACTOR = Actor.system("saml")
METADATA_FIELDS = ("idp_entity_id", "idp_sso_url", "idp_slo_url", "idp_certificates")


def _same_certificates(a: list[str], b: list[str]) -> bool:
    try:
        return {saml.load_certificate(c) for c in a} == {saml.load_certificate(c) for c in b}
    except ValueError:
        return False


def refresh_provider_metadata(provider: IdentityProvider) -> bool:
    """Re-read one provider's metadata URL; True when its config changed. Raises saml.MetadataError.

    The metadata must still name the configured entity ID (a URL that starts serving another IdP is an error,
    not a silent switch), and certificates are taken only if they pass the same validation as an admin's."""
    fields = saml.fetch_idp_metadata(provider.config["metadata_url"], entity_id=provider.config["idp_entity_id"])
    if fields["idp_entity_id"] != provider.config["idp_entity_id"]:
        raise saml.MetadataError("the metadata names another entity ID")
    current = {key: provider.config.get(key, [] if key == "idp_certificates" else "") for key in METADATA_FIELDS}
    if (
        all(current[k] == fields[k] for k in METADATA_FIELDS if k != "idp_certificates")
        and _same_certificates(current["idp_certificates"], fields["idp_certificates"])
    ):  # fmt: skip
        return False
    candidate = IdentityProvider(organization=provider.organization, kind=provider.kind, slug=provider.slug,
                                 config={**provider.config, **fields})  # fmt: skip
    errors = saml.validate(candidate)
    if errors:
        raise saml.MetadataError("; ".join(errors["config"])[:300])
    with transaction.atomic():
        locked = IdentityProvider.objects.select_for_update().get(pk=provider.pk)
        locked.config = {**locked.config, **fields}
        locked.save(update_fields=["config", "updated"])
        changes = {key: [current[key], fields[key]] for key in METADATA_FIELDS if key != "idp_certificates"}
        changes["idp_certificates"] = [
            _fingerprints(current["idp_certificates"]),
            _fingerprints(fields["idp_certificates"]),
        ]
        audit_record(
            org=locked.organization, event=saml_events.SAML_METADATA_IMPORTED, actor=ACTOR, target=locked,
            changes={k: v for k, v in changes.items() if v[0] != v[1]}, metadata={"source": "metadata_url"},
        )  # fmt: skip
    return True


def _fingerprints(certs: list[str]) -> list[str]:
    out = []
    for cert in certs:
        try:
            out.append(saml.load_certificate(cert).fingerprint(saml.hashes.SHA256()).hex()[:16])
        except ValueError:
            out.append("unreadable")
    return out


def saml_metadata_refresh() -> dict:
    counts = {"refreshed": 0, "unchanged": 0, "failed": 0}
    providers = IdentityProvider.objects.select_related("organization").filter(kind=saml.KIND, enabled=True)
    for provider in providers:
        if not provider.config.get("metadata_url"):
            continue
        try:
            changed = refresh_provider_metadata(provider)
        except saml.MetadataError as exc:
            counts["failed"] += 1
            with transaction.atomic():
                audit_record(
                    org=provider.organization, event=saml_events.SAML_METADATA_REFRESH_FAILED, actor=ACTOR,
                    target=provider, metadata={"error": str(exc)[:300]},
                )  # fmt: skip
        else:
            counts["refreshed" if changed else "unchanged"] += 1
    return counts


def saml_certificates_warn_expiring() -> int:
    """An audit event (security category: SIEM rules and the org's audit log see it) once per IdP certificate
    that expires within SAML_CERTIFICATE_WARNING_DAYS. Returns how many were warned about."""
    days = getattr(settings, "SAML_CERTIFICATE_WARNING_DAYS", 30)
    now = datetime.datetime.now(datetime.UTC)
    warned = 0
    for provider in IdentityProvider.objects.select_related("organization").filter(kind=saml.KIND, enabled=True):
        for text in provider.config.get("idp_certificates") or []:
            try:
                cert = saml.load_certificate(text)
            except ValueError:
                continue
            left = cert.not_valid_after_utc - now
            if left > datetime.timedelta(days=days):
                continue
            fingerprint = cert.fingerprint(saml.hashes.SHA256()).hex()
            with transaction.atomic():
                locked = IdentityProvider.objects.select_for_update().get(pk=provider.pk)
                already = locked.config.get("expiry_warned") or []
                if fingerprint in already:
                    continue
                # Remembered in config so that each certificate is announced once, not every day.
                locked.config = {**locked.config, "expiry_warned": [*already, fingerprint][-10:]}
                locked.save(update_fields=["config", "updated"])
                audit_record(
                    org=locked.organization, event=saml_events.SAML_CERTIFICATE_EXPIRING, actor=ACTOR, target=locked,
                    metadata={
                        "fingerprint_sha256": hashlib.sha256(cert.public_bytes(saml.serialization.Encoding.DER))
                        .hexdigest(), "not_after": cert.not_valid_after_utc.isoformat(), "days_left": left.days,
                    },
                )  # fmt: skip
            warned += 1
    return warned


@shared_task(name="accounts.saml_metadata_refresh", ignore_result=True)
def saml_metadata_refresh_task():
    return saml_metadata_refresh()


@shared_task(name="accounts.saml_certificates_warn_expiring", ignore_result=True)
def saml_certificates_warn_expiring_task():
    return saml_certificates_warn_expiring()
