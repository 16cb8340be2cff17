"""API keys: format, creation, authentication, rotation, revocation and expiry warnings.

Format (docs/security.md, "API keys"): `cak_` (personal) or `cas_` (service account), then 43 base62
characters of randomness (62**43 > 2**256) and 6 base62 characters of CRC32 over the type and the body, so a
secret scanner can recognise our keys (`\\bca[ks]_[0-9A-Za-z]{49}\\b`) and a typo is refused without a query.
Only HMAC-SHA256(API_KEY_HMAC_KEY, key) is stored: a fast keyed hash, because a 256-bit random secret needs no
password hashing, and API calls must not pay ~100 ms for one (PITFALLS.md, "Passwords").
"""

import hashlib
import hmac
import ipaddress
import re
import secrets
import string
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit_events as events
from accounts.models import ApiKey, Membership, Organization, ServiceAccount, User
from audit.models import ActorType, Outcome
from audit.services import Actor, audit_record
from chatapp.kernel.errors import Conflict
from rbac.permissions import API_KEYS_MANAGE
from rbac.registry import permissions
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS
from rbac.services import has_perm, membership_of, permissions_of, require_held, require_perm

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
BODY_LENGTH = 43
CHECKSUM_LENGTH = 6
TYPE_PREFIX = {ApiKey.Kind.PERSONAL: "cak_", ApiKey.Kind.SERVICE: "cas_"}
KEY_RE = re.compile(r"^(ca[ks]_)([0-9A-Za-z]{43})([0-9A-Za-z]{6})$")
SCANNER_REGEX = r"\bca[ks]_[0-9A-Za-z]{49}\b"
DISPLAY_PREFIX_LENGTH = 10  # "cak_" and 6 random characters
MAX_OVERLAP_HOURS = 7 * 24
MAX_ALLOWED_RANGES = 50
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often, not on every request
REFUSAL_AUDIT_EVERY = 3600  # seconds: a script hammering with a dead key writes one audit row an hour, not many


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _checksum(type_prefix: str, body: str) -> str:
    return _base62(zlib.crc32((type_prefix + body).encode()), CHECKSUM_LENGTH)


def key_generate(kind: str) -> str:
    type_prefix = TYPE_PREFIX[kind]
    body = _base62(secrets.randbelow(62**BODY_LENGTH), BODY_LENGTH)
    return type_prefix + body + _checksum(type_prefix, body)


def key_well_formed(token: str) -> bool:
    match = KEY_RE.match(token)
    return bool(match) and hmac.compare_digest(match.group(3), _checksum(match.group(1), match.group(2)))


def key_digest(token: str) -> str:
    return hmac.new(settings.API_KEY_HMAC_KEY.encode(), token.encode(), hashlib.sha256).hexdigest()


def key_actor(key: ApiKey) -> Actor:
    """The key itself as an audit actor (for what happens to a key while it is being used)."""
    return Actor(ActorType.API_KEY, str(key.pk), f"{key.prefix}… ({key.name})")


@dataclass(frozen=True)
class ApiKeyCreated:
    """A new key and its secret: the only time the secret exists outside the caller's hands."""

    key: ApiKey
    secret: str


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationError({"name": ["Give the key a name of 1 to 80 characters."]})
    return name


def _clean_scopes(scopes) -> list[str]:
    scopes = sorted(set(scopes or ()))
    if not scopes:
        raise ValidationError({"scopes": ["A key needs at least one scope (a permission code)."]})
    unknown = [code for code in scopes if code not in permissions]
    if unknown:
        raise ValidationError({"scopes": [f"Unknown permission code(s): {', '.join(unknown)}."]})
    return scopes


def _clean_ips(ranges) -> list[str]:
    ranges = list(ranges or ())
    if len(ranges) > MAX_ALLOWED_RANGES:
        raise ValidationError({"allowed_ips": [f"At most {MAX_ALLOWED_RANGES} ranges."]})
    cleaned = []
    for value in ranges:
        try:
            cleaned.append(str(ipaddress.ip_network(str(value).strip(), strict=False)))
        except ValueError:
            raise ValidationError({"allowed_ips": [f"'{value}' is not an IP address or CIDR range."]}) from None
    return sorted(set(cleaned))


def _clean_expiry(org: Organization, expires_at: datetime | None, now: datetime) -> datetime:
    latest = now + timedelta(days=org.api_key_max_lifetime_days)
    if expires_at is None:
        return latest
    if expires_at <= now:
        raise ValidationError({"expires_at": ["The expiry must be in the future."]})
    if expires_at > latest:
        raise ValidationError(
            {"expires_at": [f"This organization allows keys of at most {org.api_key_max_lifetime_days} days."]}
        )
    return expires_at


def _may_manage(*, actor: User, org: Organization, key: ApiKey) -> None:
    """Owners manage their personal keys; service keys and other people's keys need api_keys.manage."""
    if key.kind == ApiKey.Kind.PERSONAL and key.owner_id == actor.pk:
        return
    require_perm(user=actor, org=org, perm=API_KEYS_MANAGE)


@transaction.atomic
def service_account_create(*, actor, org: Organization, name: str, role: str = Membership.Role.MEMBER):
    """A service account: a passwordless user with a membership of `role` in `org` (see ServiceAccount)."""
    if isinstance(actor, User):
        require_perm(user=actor, org=org, perm=API_KEYS_MANAGE)
        require_held(actor=actor, org=org, codes=BUILT_IN_ROLE_PERMISSIONS[role], doing=f"create a {role} account")
    if role == Membership.Role.OWNER:
        raise ValidationError({"role": ["A service account cannot be an owner."]})
    name = _clean_name(name)
    if ServiceAccount.objects.filter(organization=org, name=name).exists():
        raise Conflict(f"A service account named '{name}' already exists.")
    # A reserved, undeliverable address (RFC 2606 .invalid): nobody can register it or receive its mail.
    user = User.objects.create_user(email=f"svc-{secrets.token_hex(8)}@service-accounts.invalid", full_name=name)
    Membership.objects.create(organization=org, user=user, role=role)
    account = ServiceAccount.objects.create(
        organization=org, name=name, user=user, created_by=actor if isinstance(actor, User) else None
    )
    audit_record(
        org=org, event=events.SERVICE_ACCOUNT_CREATED, actor=actor, target=account,
        changes={"name": [None, name], "role": [None, role]},
    )  # fmt: skip
    return account


@transaction.atomic
def api_key_create(
    *,
    actor,
    org: Organization,
    name: str,
    scopes,
    owner: User | None = None,
    service_account: ServiceAccount | None = None,
    write: bool = False,
    expires_at: datetime | None = None,
    allowed_ips=(),
) -> ApiKeyCreated:
    """Create a personal key (for the actor, or for `owner` when the system creates it) or a service-account key.

    `actor` is a User (API, admin) or an audit Actor/None (management command). A person only ever creates
    personal keys for themselves; service keys need api_keys.manage and no scope the actor lacks. Either way
    the owner must hold every scope now (it is intersected again on each request).
    """
    now = timezone.now()
    person = actor if isinstance(actor, User) else None
    if service_account is not None:
        if service_account.organization_id != org.pk:
            raise ValidationError({"service_account": ["No such service account."]})
        owner, kind = service_account.user, ApiKey.Kind.SERVICE
        if person is not None:
            require_perm(user=person, org=org, perm=API_KEYS_MANAGE)
    else:
        owner, kind = owner or person, ApiKey.Kind.PERSONAL
        if owner is None:
            raise ValidationError({"owner": ["A personal key needs an owner."]})
        if person is not None and owner.pk != person.pk:
            raise PermissionDenied("A personal key can only be created by its owner.")
    scopes = _clean_scopes(scopes)
    if person is not None:
        require_held(actor=person, org=org, codes=scopes, doing="create a key with these scopes")
    if not owner.is_active or membership_of(user=owner, org=org) is None:
        raise ValidationError({"owner": ["The key's owner is not an active member of this organization."]})
    missing = sorted(set(scopes) - permissions_of(user=owner, org=org))
    if missing:
        raise ValidationError({"scopes": [f"The owner does not hold: {', '.join(missing)}."]})
    secret = key_generate(kind)
    key = ApiKey.objects.create(
        organization=org, kind=kind, owner=owner, service_account=service_account, name=_clean_name(name),
        prefix=secret[:DISPLAY_PREFIX_LENGTH], digest=key_digest(secret), scopes=scopes, write=bool(write),
        allowed_ips=_clean_ips(allowed_ips), expires_at=_clean_expiry(org, expires_at, now), created_by=person,
    )  # fmt: skip
    audit_record(
        org=org, event=events.API_KEY_CREATED, actor=actor, target=key,
        changes={
            "kind": [None, kind], "owner": [None, owner.email], "scopes": [None, scopes], "write": [None, key.write],
            "allowed_ips": [None, key.allowed_ips], "expires_at": [None, key.expires_at.isoformat()],
        },
    )  # fmt: skip
    return ApiKeyCreated(key=key, secret=secret)


def _revoke(key: ApiKey, *, actor, reason: str, now: datetime) -> None:
    key.revoked_at, key.revoked_reason = now, reason[:200]
    key.save(update_fields=["revoked_at", "revoked_reason"])
    audit_record(
        org=key.organization, event=events.API_KEY_REVOKED, actor=actor, target=key,
        changes={"revoked_at": [None, now.isoformat()]}, metadata={"reason": reason[:200]},
    )  # fmt: skip


@transaction.atomic
def api_key_revoke(*, actor, org: Organization, key: ApiKey, reason: str = "") -> ApiKey:
    """Revoke a key at once (the next request with it is refused). Revoking a revoked key changes nothing."""
    if isinstance(actor, User):
        _may_manage(actor=actor, org=org, key=key)
    key = ApiKey.objects.select_for_update().select_related("organization").get(pk=key.pk, organization=org)
    if key.revoked_at is None:
        _revoke(key, actor=actor, reason=reason or "revoked", now=timezone.now())
    return key


@transaction.atomic
def api_key_rotate(*, actor, org: Organization, key: ApiKey, overlap_hours: int = 24) -> ApiKeyCreated:
    """Replace a key by a new one with the same settings; the old one keeps working `overlap_hours` more
    (0: it stops now), so clients can be switched over without an outage."""
    if isinstance(actor, User):
        _may_manage(actor=actor, org=org, key=key)
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise ValidationError({"overlap_hours": [f"Between 0 and {MAX_OVERLAP_HOURS} hours."]})
    now = timezone.now()
    old = ApiKey.objects.select_for_update().select_related("organization").get(pk=key.pk, organization=org)
    if not old.is_usable(now):
        raise Conflict("Only a key that still works can be rotated.")
    if ApiKey.objects.filter(rotated_from=old).exists():
        raise Conflict("This key has already been rotated; rotate its replacement.")
    lifetime = old.expires_at - old.created_at
    secret = key_generate(old.kind)
    new = ApiKey.objects.create(
        organization=org, kind=old.kind, owner_id=old.owner_id, service_account_id=old.service_account_id,
        name=old.name, prefix=secret[:DISPLAY_PREFIX_LENGTH], digest=key_digest(secret), scopes=old.scopes,
        write=old.write, allowed_ips=old.allowed_ips, rotated_from=old,
        expires_at=min(now + lifetime, now + timedelta(days=org.api_key_max_lifetime_days)),
        created_by=actor if isinstance(actor, User) else None,
    )  # fmt: skip
    before = old.expires_at
    if overlap_hours == 0:
        old.revoked_at, old.revoked_reason = now, "rotated"
    else:
        old.expires_at = min(old.expires_at, now + timedelta(hours=overlap_hours))
    old.save(update_fields=["expires_at", "revoked_at", "revoked_reason"])
    audit_record(
        org=org, event=events.API_KEY_ROTATED, actor=actor, target=old,
        changes={"expires_at": [before.isoformat(), old.expires_at.isoformat()], "replaced_by": [None, new.prefix]},
        metadata={"overlap_hours": overlap_hours, "new_key_id": new.pk},
    )  # fmt: skip
    return ApiKeyCreated(key=new, secret=secret)


def api_keys_revoke_for_member(*, actor, org: Organization, user: User, reason: str) -> int:
    """Revoke every working key `user` owns in `org` (their membership ended). Call inside a transaction."""
    now = timezone.now()
    keys = (
        ApiKey.objects.select_for_update()
        .select_related("organization")
        .filter(organization=org, owner=user, revoked_at__isnull=True, expires_at__gt=now)
    )
    count = 0
    for key in keys:
        _revoke(key, actor=actor, reason=reason, now=now)
        count += 1
    return count


# --- Authentication --------------------------------------------------------------------------------------


class KeyRefused(Exception):
    """Why a presented key does not authenticate; `status` is 401 (not a valid credential) or 403 (valid, not
    from here / not for this)."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


def _audit_refusal_once(key: ApiKey, event, reason: str, ip: str | None) -> None:
    if not cache.add(f"api_key_refusal:{event.code}:{key.pk}", 1, REFUSAL_AUDIT_EVERY):
        return
    with transaction.atomic():
        audit_record(
            org=key.organization, event=event, actor=key_actor(key), target=key, outcome=Outcome.DENIED,
            metadata={"reason": reason, "ip": ip},
        )  # fmt: skip


def api_key_authenticate(*, token: str, ip: str | None, now: datetime | None = None) -> ApiKey:
    """The working key for `token`, with its owner loaded, in one query on the unique digest; or KeyRefused.

    Nothing is cached, so a revocation or a deactivated owner counts on the very next request. A deactivated
    membership revokes the member's keys in the same transaction (member_update), and every organization route
    checks the caller's active membership of an active organization again (404 otherwise), so the lookup stays
    a single-join query: compiling joins and subqueries cost more than the ≤ 0.3 ms budget (bench/api_key_bench.py).
    """
    if not key_well_formed(token):
        raise KeyRefused("Malformed API key.")
    now = now or timezone.now()
    found = list(ApiKey.objects.select_related("owner").order_by().filter(digest=key_digest(token))[:1])
    key = found[0] if found else None
    if key is None:
        raise KeyRefused("Invalid API key.")
    if key.revoked_at is not None:
        raise KeyRefused("This API key has been revoked.")
    if key.expires_at <= now:
        _audit_refusal_once(key, events.API_KEY_EXPIRED_REFUSED, "expired", ip)
        raise KeyRefused("This API key has expired.")
    if not key.owner.is_active:
        raise KeyRefused("This API key's owner can no longer use it.")
    if key.allowed_ips and not _ip_allowed(ip, key.allowed_ips):
        _audit_refusal_once(key, events.API_KEY_IP_REFUSED, "address not allowed", ip)
        raise KeyRefused("This API key may not be used from your address.", status=403)
    _touch(key, ip=ip, now=now)
    from analytics import events as analytics_events
    from analytics.tracking import track

    track(analytics_events.API_KEY_USED, org=key.organization_id, user=key.owner_id, client="api")
    return key


def _ip_allowed(ip: str | None, ranges: list[str]) -> bool:
    if not ip:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(cidr) for cidr in ranges)


def _touch(key: ApiKey, *, ip: str | None, now: datetime) -> None:
    """Record last use at most once a minute per key; the conditional UPDATE lets one worker win a race."""
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_EVERY:
        return
    first = key.last_used_at is None
    with transaction.atomic():
        stale = Q(last_used_at__isnull=True) if first else Q(last_used_at__lt=now - LAST_USED_EVERY)
        updated = ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now, last_used_ip=ip)
        if updated and first:
            audit_record(
                org=key.organization, event=events.API_KEY_FIRST_USED, actor=key_actor(key), target=key,
                metadata={"ip": ip},
            )  # fmt: skip
    key.last_used_at, key.last_used_ip = now, ip


# --- Expiry warnings (beat) ------------------------------------------------------------------------------


def api_keys_warn_expiring(*, now: datetime | None = None) -> int:
    """E-mail the owner (or, for a service key, its creator) of each working key expiring within
    API_KEY_EXPIRY_WARNING_DAYS, once per key. The claim is written before sending, so running twice never
    sends twice (a crash between the two loses one warning rather than repeating it)."""
    now = now or timezone.now()
    due = ApiKey.objects.select_related("owner", "created_by", "organization").filter(
        revoked_at__isnull=True,
        expiry_warned_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=settings.API_KEY_EXPIRY_WARNING_DAYS),
        rotated_to__isnull=True,  # a rotated key's end is planned; its replacement gets its own warning
    )
    sent = 0
    for key in due:
        if not ApiKey.objects.filter(pk=key.pk, expiry_warned_at__isnull=True).update(expiry_warned_at=now):
            continue
        recipient = key.created_by if key.kind == ApiKey.Kind.SERVICE else key.owner
        if recipient is None or not recipient.is_active:
            continue
        send_mail(
            subject=f"[chatapp] API key '{key.name}' expires on {key.expires_at:%Y-%m-%d}",
            message=(
                f"The API key '{key.name}' ({key.prefix}…) of {key.organization.name} expires at "
                f"{key.expires_at:%Y-%m-%d %H:%M} UTC. Rotate it before then to keep your integration working."
            ),
            from_email=None,
            recipient_list=[recipient.email],
        )
        sent += 1
    return sent


def api_keys_visible_to(*, user: User, org: Organization):
    """The organization's keys the user may see: all with api_keys.manage, else their own personal keys."""
    keys = ApiKey.objects.filter(organization=org).select_related("owner", "service_account")
    if has_perm(user=user, org=org, perm=API_KEYS_MANAGE):
        return keys
    return keys.filter(owner=user, kind=ApiKey.Kind.PERSONAL)
