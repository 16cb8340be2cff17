"""Publishing: publishers and their signing keys, package upload (signature, manifest, archive safety), the
automatic scan, the approval workflow (submitted -> scanned -> in review -> approved | rejected; nobody
approves their own package), yanking, and org admins' reviews and abuse reports.

Marketplace events are recorded on the publisher's organization's audit chain (and the installing
organizations' chains for what happens to their installations).
"""

import ast
import json

import semver
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from audit.models import Outcome
from audit.services import Actor, Target, audit_record
from chatapp.kernel.errors import Conflict
from plugins import audit_events as events
from plugins import packages
from plugins.capabilities import FREE_INTERFACES, capabilities
from plugins.manifest import ManifestError, manifest_load
from plugins.models import (
    AbuseReport,
    Installation,
    ListingReview,
    Plugin,
    PluginVersion,
    Publisher,
    PublisherKey,
)
from plugins.permissions import PLUGINS_MANAGE, PLUGINS_PUBLISH
from rbac.services import has_perm, require_perm

BANNED_MODULES = frozenset(
    {"socket", "ssl", "subprocess", "ctypes", "multiprocessing", "urllib.request", "http.client", "importlib", "os"}
)


def _publisher_check(*, actor: User, publisher: Publisher) -> None:
    require_perm(user=actor, org=publisher.organization, perm=PLUGINS_PUBLISH)


@transaction.atomic
def publisher_create(*, actor: User, org: Organization, slug: str, name: str) -> Publisher:
    require_perm(user=actor, org=org, perm=PLUGINS_PUBLISH)
    try:
        with transaction.atomic():
            publisher = Publisher.objects.create(slug=slug, name=name, organization=org)
    except IntegrityError:
        raise Conflict(f"The publisher name {slug!r} is taken.") from None
    audit_record(org=org, event=events.PUBLISHER_CREATED, actor=actor, target=publisher)
    return publisher


@transaction.atomic
def publisher_key_add(
    *, actor: User, publisher: Publisher, public_key: str, retire_others: bool = False
) -> PublisherKey:
    """Register a signing key; with retire_others (rotation) the active keys stop accepting new uploads."""
    _publisher_check(actor=actor, publisher=publisher)
    try:
        value = packages.public_key_parse(public_key)
    except ValueError as exc:
        raise ValidationError({"public_key": [str(exc)]}) from None
    key_id = packages.key_id_of(value)
    if PublisherKey.objects.filter(key_id=key_id).exists():
        raise Conflict("This key is already registered.")
    if retire_others:
        PublisherKey.objects.filter(publisher=publisher, status=PublisherKey.Status.ACTIVE).update(
            status=PublisherKey.Status.RETIRED, status_changed=timezone.now(), reason="rotated"
        )
    key = PublisherKey.objects.create(publisher=publisher, key_id=key_id, public_key=value)
    audit_record(
        org=publisher.organization, event=events.PUBLISHER_KEY_ADDED, actor=actor, target=publisher,
        metadata={"key_id": key_id, "rotation": retire_others},
    )  # fmt: skip
    return key


@transaction.atomic
def publisher_key_revoke(*, actor: User, key: PublisherKey, reason: str) -> PublisherKey:
    """Revoke a key (it leaked): its signatures are refused from now on, and the versions it signed are
    yanked, so every organization running them has them disabled."""
    publisher = key.publisher
    _publisher_check(actor=actor, publisher=publisher)
    if key.status == PublisherKey.Status.REVOKED:
        return key
    key.status, key.status_changed, key.reason = PublisherKey.Status.REVOKED, timezone.now(), reason[:300]
    key.save(update_fields=["status", "status_changed", "reason"])
    audit_record(
        org=publisher.organization, event=events.PUBLISHER_KEY_REVOKED, actor=actor, target=publisher,
        metadata={"key_id": key.key_id, "reason": reason[:300]},
    )  # fmt: skip
    for version in key.versions.exclude(status=PluginVersion.Status.YANKED):
        _yank(actor=actor, version=version, reason=f"signing key {key.key_id} was revoked")
    return key


def _refuse(*, actor, publisher, reason: str, sha256: str = "") -> None:
    """Record the refusal in its own transaction (the upload's is rolled back) and raise it as a 400."""
    with transaction.atomic():
        audit_record(
            org=publisher.organization, event=events.PACKAGE_REFUSED, actor=actor,
            target=Target("plugins.package", sha256, sha256[:16] or "upload"), outcome=Outcome.DENIED,
            metadata={"reason": reason[:500]},
        )  # fmt: skip
    raise ValidationError({"package": [reason]})


def package_upload(
    *, actor: User, publisher: Publisher, data: bytes, signature: str = "", key_id: str = "", private: bool = False
) -> PluginVersion:
    """Verify and store an uploaded package as a new version (status submitted; the scan follows)."""
    _publisher_check(actor=actor, publisher=publisher)
    try:
        package = packages.package_read(data)
    except packages.PackageRefused as exc:
        _refuse(actor=actor, publisher=publisher, reason=str(exc))
    key = None
    if signature or key_id or not settings.PLUGIN_DEV_MODE:
        key = PublisherKey.objects.filter(publisher=publisher, key_id=key_id).first()
        if key is None:
            _refuse(actor=actor, publisher=publisher, sha256=package.sha256,
                    reason=f"The signing key {key_id!r} is not a key of publisher {publisher.slug}.")  # fmt: skip
        if key.status != PublisherKey.Status.ACTIVE:
            _refuse(actor=actor, publisher=publisher, sha256=package.sha256,
                    reason=f"The signing key {key_id} is {key.get_status_display().lower()}; "
                    "sign with an active key.")  # fmt: skip
        if not packages.signature_verify(key.public_key, data, signature):
            _refuse(actor=actor, publisher=publisher, sha256=package.sha256,
                    reason="The signature does not match the package (it was changed after signing, or signed "
                    "with another key).")  # fmt: skip
    if package.sha256 in settings.PLUGIN_BLOCKED_SHA256:
        _refuse(actor=actor, publisher=publisher, sha256=package.sha256, reason="The package is on the blocklist.")
    try:
        manifest = manifest_load(package.manifest, runtime="wasm")
    except ManifestError as exc:
        _refuse(actor=actor, publisher=publisher, sha256=package.sha256, reason=f"Invalid manifest: {exc}")
    with transaction.atomic():
        version = _version_create(
            actor=actor, publisher=publisher, manifest=manifest, package=package, key=key, private=private
        )
    from plugins.tasks import package_scan

    transaction.on_commit(lambda: package_scan.delay(version.pk))
    return version


def _version_create(*, actor, publisher, manifest, package, key, private) -> PluginVersion:
    data = manifest.data
    plugin, _ = Plugin.objects.select_for_update().get_or_create(
        plugin_id=data["id"],
        defaults={"name": data["name"], "kind": Plugin.Kind.WASM, "publisher": publisher,
                  "private_to": publisher.organization if private else None, "category": data["category"],
                  "description": data["description"]},
    )  # fmt: skip
    if plugin.publisher_id != publisher.pk:
        raise PermissionDenied(f"The plugin id {data['id']} belongs to another publisher.")
    if plugin.versions.filter(version=data["version"]).exists():
        raise Conflict(f"{data['id']} {data['version']} was already uploaded; raise the version.")
    wasm_sha = packages.digest(package.wasm).hex()
    path = packages.store_path("components", wasm_sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(package.wasm)
    version = PluginVersion.objects.create(
        plugin=plugin, version=data["version"], manifest=data, package_sha256=package.sha256,
        package_size=package.size, wasm_sha256=wasm_sha, signature="" if key is None else "signed",
        key=key, unsigned_dev=key is None, submitted_by=actor,
        scan_report={"sources": package.sources},
    )  # fmt: skip
    audit_record(
        org=publisher.organization, event=events.PACKAGE_SUBMITTED, actor=actor, target=version,
        metadata={"sha256": package.sha256, "key_id": key.key_id if key else "", "unsigned_dev": key is None,
                  "private": plugin.private_to_id is not None},
    )  # fmt: skip
    return version


def _scan_findings(version: PluginVersion) -> list[str]:
    from plugins import sandbox

    findings = []
    if version.wasm_sha256 in settings.PLUGIN_BLOCKED_SHA256:
        findings.append("the component is on the blocklist of known-bad hashes")
    declared = set(version.capabilities)
    try:
        imports = sandbox.component_imports(version.wasm_sha256)
    except Exception as exc:
        return [*findings, f"the component cannot be loaded ({type(exc).__name__})"]
    prefix = f"{sandbox.WIT_PACKAGE}/"
    for name in imports:
        if not name.startswith(prefix):
            continue  # WASI: linked with nothing granted
        interface = name[len(prefix) :].split("@")[0]
        if interface in FREE_INTERFACES:
            continue
        reaching = {c.key for c in capabilities if c.interface == interface}
        if not reaching:
            findings.append(f"imports {name}, which is not part of the plugin API")
        elif not reaching & declared:
            findings.append(
                f"imports {name}, reaching {', '.join(sorted(reaching))}, which the manifest does not declare"
            )
    for path, source in (version.scan_report.get("sources") or {}).items():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            findings.append(f"{path} is not valid Python")
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for module in names:
                if module in BANNED_MODULES or module.split(".")[0] in BANNED_MODULES:
                    findings.append(f"{path} imports the banned module {module}")
    return findings


def version_scan(*, version_id: int) -> PluginVersion:
    """Compile (cached) and scan a submitted version; clean -> scanned, findings -> rejected with them.
    In development mode findings are kept as warnings. Safe to run twice."""
    from plugins import packages as pkg
    from plugins import sandbox

    version = PluginVersion.objects.select_related("plugin__publisher__organization").get(pk=version_id)
    if version.status != PluginVersion.Status.SUBMITTED:
        return version
    sandbox.component_compile(pkg.store_path("components", version.wasm_sha256).read_bytes())
    findings = _scan_findings(version)
    with transaction.atomic():
        version = PluginVersion.objects.select_for_update().get(pk=version_id)
        if version.status != PluginVersion.Status.SUBMITTED:
            return version
        blocking = findings and not version.unsigned_dev
        version.status = PluginVersion.Status.REJECTED if blocking else PluginVersion.Status.SCANNED
        version.scan_report = {**version.scan_report, "findings": findings, "scanned_at": timezone.now().isoformat()}
        if blocking:
            version.review_reason = "Automatic scan: " + "; ".join(findings)
        version.save(update_fields=["status", "scan_report", "review_reason"])
        audit_record(
            org=version.plugin.publisher.organization, event=events.PACKAGE_SCANNED, actor=Actor.system("plugin scan"),
            target=version, outcome=Outcome.FAILURE if blocking else Outcome.SUCCESS, metadata={"findings": findings},
        )  # fmt: skip
    return version


def _reviewer_check(*, actor: User, version: PluginVersion) -> None:
    """The operator reviews marketplace packages; an organization's managers review its private ones. Nobody
    reviews a package they submitted or, for the marketplace, one of their own publisher."""
    if version.submitted_by_id == actor.pk:
        raise PermissionDenied("You submitted this package; someone else must review it.")
    private_to = version.plugin.private_to
    if private_to is not None:
        require_perm(user=actor, org=private_to, perm=PLUGINS_MANAGE)
        return
    if not actor.is_staff:
        raise PermissionDenied("Only the marketplace's operators review packages.")
    if Membership.objects.filter(
        organization=version.plugin.publisher.organization, user=actor, is_active=True
    ).exists():
        raise PermissionDenied("You belong to the publisher's organization; someone else must review it.")


def _transition(*, actor, version, allowed: set, to: str, event, reason: str = "") -> PluginVersion:
    _reviewer_check(actor=actor, version=version)
    with transaction.atomic():
        locked = PluginVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status not in allowed:
            raise Conflict(f"The version is {locked.get_status_display().lower()}; it cannot go to {to} now.")
        locked.status, locked.reviewed_by, locked.review_reason = to, actor, reason
        locked.save(update_fields=["status", "reviewed_by", "review_reason"])
        if to == PluginVersion.Status.APPROVED:
            Plugin.objects.filter(pk=locked.plugin_id).update(capabilities=locked.capabilities)
        audit_record(
            org=version.plugin.publisher.organization, event=event, actor=actor, target=locked,
            changes={"status": [version.status, to]}, metadata={"reason": reason[:500]} if reason else None,
        )  # fmt: skip
    return locked


def review_start(*, actor: User, version: PluginVersion) -> PluginVersion:
    return _transition(actor=actor, version=version, allowed={PluginVersion.Status.SCANNED},
                       to=PluginVersion.Status.IN_REVIEW, event=events.PACKAGE_REVIEW_STARTED)  # fmt: skip


def version_approve(*, actor: User, version: PluginVersion) -> PluginVersion:
    return _transition(actor=actor, version=version, allowed={PluginVersion.Status.IN_REVIEW},
                       to=PluginVersion.Status.APPROVED, event=events.PACKAGE_APPROVED)  # fmt: skip


def version_reject(*, actor: User, version: PluginVersion, reason: str) -> PluginVersion:
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the version is rejected; the publisher sees it."]})
    return _transition(
        actor=actor, version=version, allowed={PluginVersion.Status.SCANNED, PluginVersion.Status.IN_REVIEW},
        to=PluginVersion.Status.REJECTED, event=events.PACKAGE_REJECTED, reason=reason,
    )  # fmt: skip


def version_yank(*, actor: User, version: PluginVersion, reason: str) -> PluginVersion:
    """Withdraw a version (the operator or its publisher): it is disabled everywhere and admins are told."""
    if not actor.is_staff:
        _publisher_check(actor=actor, publisher=version.plugin.publisher)
    return _yank(actor=actor, version=version, reason=reason)


@transaction.atomic
def _yank(*, actor, version: PluginVersion, reason: str) -> PluginVersion:
    from plugins.runtime import _tell_admins

    before = version.status
    version.status, version.review_reason = PluginVersion.Status.YANKED, reason
    version.save(update_fields=["status", "review_reason"])
    audit_record(
        org=version.plugin.publisher.organization, event=events.PACKAGE_YANKED, actor=actor, target=version,
        changes={"status": [before, "yanked"]}, metadata={"reason": reason[:500]},
    )  # fmt: skip
    for installation in Installation.objects.filter(version=version, enabled=True).select_related("organization"):
        installation.enabled = False
        installation.disabled_reason = f"disabled because version {version.version} was withdrawn ({reason})"[:300]
        installation.save(update_fields=["enabled", "disabled_reason"])
        audit_record(
            org=installation.organization, event=events.PLUGIN_DISABLED, actor=actor, target=installation,
            changes={"enabled": [True, False]}, metadata={"reason": "version yanked"},
        )  # fmt: skip
        transaction.on_commit(lambda i=installation: _tell_admins(i))
    return version


@transaction.atomic
def listing_review(*, actor: User, org: Organization, plugin: Plugin, rating: int, text: str = "") -> ListingReview:
    """An org admin rates a plugin (one review per organization, replaced when written again)."""
    require_perm(user=actor, org=org, perm=PLUGINS_MANAGE)
    if not 1 <= int(rating) <= 5:
        raise ValidationError({"rating": ["Rate from 1 to 5."]})
    review, _ = ListingReview.objects.update_or_create(
        organization=org, plugin=plugin, defaults={"author": actor, "rating": rating, "text": text}
    )
    audit_record(org=org, event=events.LISTING_REVIEWED, actor=actor, target=plugin, metadata={"rating": rating})
    return review


@transaction.atomic
def listing_report(*, actor: User, org: Organization, plugin: Plugin, reason: str) -> AbuseReport:
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say what is wrong with the listing."]})
    if not has_perm(user=actor, org=org, perm="org.view"):
        raise PermissionDenied("Only members can report a listing.")
    report = AbuseReport.objects.create(organization=org, plugin=plugin, reporter=actor, reason=reason)
    audit_record(org=org, event=events.LISTING_REPORTED, actor=actor, target=plugin)
    return report


def version_order_key(version: PluginVersion):
    return semver.Version.parse(version.version)


def manifest_text(version: PluginVersion) -> str:
    return json.dumps(version.manifest, indent=2)
