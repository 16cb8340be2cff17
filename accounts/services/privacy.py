"""Data-subject rights: the register of requests, the personal-data export, and erasure by anonymization.

Erasure keeps the account row (ids in messages, audit events and the register keep pointing somewhere) and
replaces everything that identifies the person: e-mail becomes `erased-user-<id>@erased.invalid`, the name goes,
credentials, sessions, second factors, e-mail addresses and login-attempt records are deleted, memberships
deactivated, and audit rows rewritten through audit.redaction (docs/data-protection.md, "Data-subject requests").
"""

import csv
import io
import logging
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import audit_events as events
from accounts.models import ApiKey, Invitation, Membership, PrivacyRequest, RecoveryCodeDevice, User, WebAuthnDevice
from accounts.models.privacy import DUE_DAYS
from accounts.services.sessions import credentials_revoke_all
from audit.models import ActorType, AuditEvent
from audit.services import Actor, Target, audit_record
from chatapp.kernel.errors import Conflict

log = logging.getLogger(__name__)

ERASED_DOMAIN = "erased.invalid"  # .invalid (RFC 2606) can never be a real mailbox
ERASED_NAME = "[erased]"


def pseudonym_of(user: User) -> str:
    return f"erased-user-{user.pk}@{ERASED_DOMAIN}"


def is_erased(user: User) -> bool:
    return user.email == pseudonym_of(user)


def _target(user: User) -> Target:
    # Only the id: a register event never puts the person's address into the trail (it would need redacting).
    return Target("accounts.user", str(user.pk), f"user #{user.pk}")


def _require_privacy_team(actor) -> None:
    if not (actor is not None and getattr(actor, "is_staff", False)):
        raise PermissionDenied("Only the platform's privacy team (staff) may handle data-subject requests.")


# --- the register ---------------------------------------------------------------------------------------------


@transaction.atomic
def privacy_request_create(
    *, subject: User, kind: str, regulation: str = PrivacyRequest.Regulation.GDPR, actor=None, notes: str = "",
    now=None,
) -> PrivacyRequest:  # fmt: skip
    """Enter a request in the register, due 30 (GDPR) or 45 (CCPA) days after receipt.

    The subject files for themself (self-service); anyone else must be on the privacy team. An erasure waits
    PRIVACY_ERASURE_GRACE_DAYS before it runs; a second erasure while one is open is refused (409).
    """
    if actor is not None and actor.pk != subject.pk:
        _require_privacy_team(actor)
    if kind not in PrivacyRequest.Kind.values:
        raise ValidationError({"kind": [f"Choose one of: {', '.join(PrivacyRequest.Kind.values)}."]})
    if regulation not in DUE_DAYS:
        raise ValidationError({"regulation": [f"Choose one of: {', '.join(DUE_DAYS)}."]})
    if is_erased(subject):
        raise ValidationError("This account's personal data has already been erased.")
    now = now or timezone.now()
    request = PrivacyRequest(
        kind=kind, regulation=regulation, subject=subject, received_at=now, notes=notes,
        due_at=now + timedelta(days=DUE_DAYS[regulation]),
        execute_after=now + timedelta(days=settings.PRIVACY_ERASURE_GRACE_DAYS) if kind == "erasure" else None,
    )  # fmt: skip
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError:
        raise Conflict("An erasure of this account is already pending; cancel it or wait for it.") from None
    audit_record(
        org=None, event=events.PRIVACY_REQUEST_RECEIVED, actor=actor, target=_target(subject),
        metadata={"request": request.pk, "kind": kind, "regulation": regulation},
    )  # fmt: skip
    return request


def _locked_open(request: PrivacyRequest) -> PrivacyRequest:
    request = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
    if request.status not in PrivacyRequest.OPEN:
        raise Conflict(f"This request is already {request.get_status_display().lower()}.")
    return request


def _close(request: PrivacyRequest, *, status: str, actor, event, notes: str = "") -> PrivacyRequest:
    request.status = status
    request.completed_at = timezone.now()
    if actor is not None and getattr(actor, "is_staff", False):
        request.handler = actor
    if notes:
        request.notes = f"{request.notes}\n{notes}".strip()
    request.save(update_fields=["status", "completed_at", "handler", "notes"])
    audit_record(
        org=None, event=event, actor=actor, target=_target(request.subject),
        metadata={"request": request.pk, "kind": request.kind, "status": status},
    )  # fmt: skip
    return request


@transaction.atomic
def privacy_request_cancel(*, actor, request: PrivacyRequest) -> PrivacyRequest:
    """The subject (or the privacy team) withdraws an open request: an erasure in its grace period never runs."""
    if actor is None or actor.pk != request.subject_id:
        _require_privacy_team(actor)
    request = _locked_open(request)
    return _close(request, status=PrivacyRequest.Status.CANCELLED, actor=actor, event=events.PRIVACY_REQUEST_CANCELLED)


@transaction.atomic
def privacy_request_complete(*, actor, request: PrivacyRequest, notes: str = "") -> PrivacyRequest:
    """The privacy team marks an access or portability request answered. An erasure completes by running."""
    _require_privacy_team(actor)
    request = _locked_open(request)
    if request.kind == PrivacyRequest.Kind.ERASURE:
        raise ValidationError("An erasure request is completed by executing it, not by marking it.")
    return _close(
        request, status=PrivacyRequest.Status.COMPLETED, actor=actor, event=events.PRIVACY_REQUEST_COMPLETED,
        notes=notes,
    )  # fmt: skip


@transaction.atomic
def privacy_request_reject(*, actor, request: PrivacyRequest, reason: str) -> PrivacyRequest:
    """The privacy team refuses a request (identity not verified, manifestly unfounded...); the reason is kept."""
    _require_privacy_team(actor)
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the request is rejected: the subject must be told."]})
    request = _locked_open(request)
    return _close(
        request, status=PrivacyRequest.Status.REJECTED, actor=actor, event=events.PRIVACY_REQUEST_REJECTED,
        notes=f"Rejected: {reason.strip()}",
    )  # fmt: skip


@transaction.atomic
def privacy_erasure_execute(*, request: PrivacyRequest, actor=None) -> PrivacyRequest:
    """Run an open erasure now (the daily task when the grace period ended, or the privacy team at once)."""
    if actor is not None:
        _require_privacy_team(actor)
    request = _locked_open(request)
    if request.kind != PrivacyRequest.Kind.ERASURE:
        raise ValidationError("Only an erasure request can be executed.")
    user_erase(user=request.subject, actor=actor, reason=f"privacy request #{request.pk}")
    return _close(request, status=PrivacyRequest.Status.COMPLETED, actor=actor, event=events.PRIVACY_REQUEST_COMPLETED)


def privacy_erasures_run_due(*, now=None) -> int:
    """Execute every erasure whose grace period ended (beat, daily): one transaction per person, so one failure
    (an audit row that does not verify) stops only that erasure, and the next run retries it."""
    now = now or timezone.now()
    due = PrivacyRequest.objects.filter(
        kind=PrivacyRequest.Kind.ERASURE, status__in=PrivacyRequest.OPEN, execute_after__lte=now
    ).values_list("pk", flat=True)
    done = 0
    for pk in list(due):
        try:
            privacy_erasure_execute(request=PrivacyRequest(pk=pk))
            done += 1
        except Exception:
            log.exception("privacy erasure failed", extra={"privacy_request": pk})
    return done


def privacy_requests_overdue(*, now=None):
    now = now or timezone.now()
    return PrivacyRequest.objects.filter(status__in=PrivacyRequest.OPEN, due_at__lt=now).select_related("handler")


def privacy_requests_alert_overdue(*, now=None) -> int:
    """E-mail PRIVACY_TEAM_EMAILS the open requests past their legal due date (beat, daily); returns how many.

    The mail names requests and subjects by id only: it goes to mailboxes, and personal data stays in the admin.
    """
    now = now or timezone.now()
    overdue = list(privacy_requests_overdue(now=now))
    if not overdue:
        return 0
    if not settings.PRIVACY_TEAM_EMAILS:
        log.warning("overdue data-subject requests but PRIVACY_TEAM_EMAILS is empty", extra={"count": len(overdue)})
        return len(overdue)
    lines = [
        f"#{r.pk} {r.kind} ({r.regulation.upper()}), subject user #{r.subject_id}, received {r.received_at:%Y-%m-%d}, "
        f"due {r.due_at:%Y-%m-%d} ({(now - r.due_at).days} days overdue), {r.status}, "
        f"handler {'user #' + str(r.handler_id) if r.handler_id else 'none'}"
        for r in overdue
    ]
    send_mail(
        subject=f"[chatapp] {len(overdue)} data-subject request(s) overdue",
        message="These requests are past their legal due date:\n\n" + "\n".join(lines)
        + "\n\nHandle them in the admin: Accounts > Privacy requests (filter: overdue).\n",
        from_email=None, recipient_list=list(settings.PRIVACY_TEAM_EMAILS),
    )  # fmt: skip
    return len(overdue)


# --- the export (Art. 15 and 20) -------------------------------------------------------------------------------


def _sections(user: User) -> list[tuple[str, list[str], Callable[[], Iterable[dict]]]]:
    """(name, columns, rows) for everything held about the person. No secret is included: no password hash,
    no API key digest, no second-factor secret."""
    from allauth.account.models import EmailAddress
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from chatapp.chat.models import ChannelMember, Message

    who = str(user.pk)

    def profile():
        yield {"id": user.pk, "email": user.email, "full_name": user.full_name, "date_joined": user.date_joined,
               "last_login": user.last_login, "is_active": user.is_active}  # fmt: skip

    def mfa_devices():
        for model, kind in ((TOTPDevice, "totp"), (WebAuthnDevice, "webauthn"), (RecoveryCodeDevice, "recovery")):
            for device in model.objects.filter(user=user).order_by("pk"):
                yield {"kind": kind, "name": device.name, "confirmed": device.confirmed,
                       "created_at": getattr(device, "created_at", None),
                       "last_used_at": getattr(device, "last_used_at", None)}  # fmt: skip

    def rows(queryset, **renames):
        return lambda: ({renames.get(k, k): v for k, v in row.items()} for row in queryset.iterator(chunk_size=2000))

    about = Q(actor_type=ActorType.USER, actor_id=who) | Q(target_type="accounts.user", target_id=who)
    return [
        ("profile", ["id", "email", "full_name", "date_joined", "last_login", "is_active"], profile),
        ("email_addresses", ["email", "verified", "primary"],
         rows(EmailAddress.objects.filter(user=user).order_by("pk").values("email", "verified", "primary"))),
        ("memberships", ["organization", "role", "is_active", "joined"],
         rows(Membership.objects.filter(user=user).order_by("pk").values("organization__slug", "role", "is_active",
                                                                          "joined"),
              organization__slug="organization")),
        ("channels", ["organization", "channel", "added"],
         rows(ChannelMember.objects.filter(user=user).order_by("pk").values("organization__slug", "channel__name",
                                                                              "added"),
              organization__slug="organization", channel__name="channel")),
        ("messages", ["id", "organization", "channel", "created", "edited", "deleted", "body"],
         rows(Message.objects.filter(author=user).order_by("pk").values("id", "organization__slug", "channel__name",
                                                                          "created", "edited", "deleted", "body"),
              organization__slug="organization", channel__name="channel")),
        ("sessions", ["created_at", "last_activity", "ip", "user_agent"],
         rows(user.sessions.order_by("pk").values("created_at", "last_activity", "ip", "user_agent"))),
        ("api_keys", ["organization", "name", "prefix", "scopes", "write", "created_at", "expires_at", "revoked_at",
                      "last_used_at", "last_used_ip"],
         rows(ApiKey.objects.filter(owner=user).order_by("pk").values(
             "organization__slug", "name", "prefix", "scopes", "write", "created_at", "expires_at", "revoked_at",
             "last_used_at", "last_used_ip"), organization__slug="organization")),
        ("mfa_devices", ["kind", "name", "confirmed", "created_at", "last_used_at"], mfa_devices),
        ("audit_events", ["occurred_at", "organization", "event_name", "actor_label", "target_type", "target_label",
                          "outcome", "ip", "user_agent"],
         rows(AuditEvent.objects.filter(about).order_by("occurred_at", "pk").values(
             "occurred_at", "organization__slug", "event_name", "actor_label", "target_type", "target_label",
             "outcome", "ip", "user_agent"), organization__slug="organization")),
        ("privacy_requests", ["id", "kind", "regulation", "received_at", "due_at", "status", "completed_at"],
         rows(PrivacyRequest.objects.filter(subject=user).order_by("pk").values(
             "id", "kind", "regulation", "received_at", "due_at", "status", "completed_at"))),
    ]  # fmt: skip


EXPORT_FORMAT = "chatapp.subject-export/1"


def subject_data_export_json(user: User) -> Iterator[bytes]:
    """The person's data as one JSON document, streamed section by section and row by row (never all in memory)."""
    yield b'{"format":' + orjson.dumps(EXPORT_FORMAT) + b',"generated_at":' + orjson.dumps(timezone.now())
    for name, _, rows in _sections(user):
        yield b',"' + name.encode() + b'":['
        first = True
        for row in rows():
            yield (b"" if first else b",") + orjson.dumps(row, default=str)
            first = False
        yield b"]"
    yield b"}\n"


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return value.isoformat() if hasattr(value, "isoformat") else value


def subject_data_export_zip(user: User):
    """The same data as a zip of CSV files, one per section, in a temporary file (in memory while small).

    Returns the file, positioned at its start; the caller streams it out and closes it.
    """
    # Not a `with`: the file outlives this function (the response streams it, then closes it).
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    try:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, columns, rows in _sections(user):
                with archive.open(f"{name}.csv", "w") as raw:
                    text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                    writer = csv.writer(text)
                    writer.writerow(columns)
                    for row in rows():
                        writer.writerow([_csv_value(row.get(column)) for column in columns])
                    text.flush()
                    text.detach()  # leave `raw` to its own `with`, which finishes the zip entry
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


@transaction.atomic
def subject_data_exported(*, user: User, fmt: str) -> PrivacyRequest:
    """Record a self-service download: answered at once, so it enters the register as a completed access request."""
    now = timezone.now()
    request = PrivacyRequest.objects.create(
        kind=PrivacyRequest.Kind.ACCESS, subject=user, received_at=now, due_at=now + timedelta(days=DUE_DAYS["gdpr"]),
        status=PrivacyRequest.Status.COMPLETED, completed_at=now, notes=f"Self-service download ({fmt}).",
    )  # fmt: skip
    audit_record(
        org=None, event=events.PRIVACY_DATA_EXPORTED, actor=user, target=_target(user),
        metadata={"request": request.pk, "format": fmt},
    )  # fmt: skip
    return request


# --- erasure (Art. 17) -----------------------------------------------------------------------------------------


@transaction.atomic
def user_erase(*, user: User, actor=None, reason: str = "erasure") -> dict:
    """Anonymize a person everywhere, in one transaction: all of it happens, or none of it.

    Returns what was done, as counts. Running it again on an erased account does nothing. Audit events about the
    person keep their ids (now the pseudonymous account's) with their personal data redacted (audit.redaction).
    """
    from allauth.account.models import EmailAddress
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.contrib.admin.models import LogEntry
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.services.portability.imports import imported_audit_events_redact
    from audit.redaction import audit_redact_subject, replacer
    from chatapp.chat.models import Message

    user = User.objects.select_for_update().get(pk=user.pk)
    if is_erased(user):
        return {}
    if hasattr(user, "service_account"):
        raise ValidationError("A service account is not a person; delete its keys instead.")
    old_email, old_name, pseudonym = user.email, user.full_name, pseudonym_of(user)
    terms = {old_email: pseudonym, old_name: ERASED_NAME}
    replace = replacer(terms)
    done = {}
    # Credentials first: ending sessions and revoking keys writes audit events, which the redaction below covers.
    done.update(credentials_revoke_all(user=user, reason="personal data erased", actor=actor))
    done["api_keys_deleted"] = ApiKey.objects.filter(owner=user).delete()[0]
    done["mfa_devices"] = sum(
        model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
        for model in (TOTPDevice, WebAuthnDevice, RecoveryCodeDevice)
    )
    done["email_addresses"] = EmailAddress.objects.filter(user=user).delete()[0]
    done["login_attempts"] = sum(
        model.objects.filter(username__iexact=old_email).delete()[0]
        for model in (AccessAttempt, AccessLog, AccessFailureLog)
    )
    done["invitations"] = Invitation.objects.filter(email__iexact=old_email).delete()[0]
    memberships = list(Membership.objects.filter(user=user).select_related("organization"))
    Membership.objects.filter(user=user).update(is_active=False)
    deleting = [m.organization_id for m in memberships if m.organization.erasure_deletes_messages]
    done["messages_deleted"] = Message.objects.filter(author=user, organization_id__in=deleting).update(
        body="", deleted=Coalesce(F("deleted"), timezone.now())
    )
    user.email, user.full_name = pseudonym, ""
    user.is_active = user.is_staff = user.is_superuser = False
    user.last_login = None
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    # Admin history names objects by their str(): a user's, a membership's ("alice@... in Acme (member)").
    for entry in LogEntry.objects.filter(
        Q(object_repr__icontains=old_email) | Q(change_message__icontains=old_email)
        | (Q(object_repr__icontains=old_name) if old_name else Q(pk__in=[]))
    ):  # fmt: skip
        entry.object_repr = replace(entry.object_repr)
        entry.change_message = replace(entry.change_message)
        entry.save(update_fields=["object_repr", "change_message"])
    for request in PrivacyRequest.objects.filter(subject=user).exclude(notes=""):
        request.notes = replace(request.notes)
        request.save(update_fields=["notes"])
    # Imported history (another instance's trail, outside our chain) is rewritten in place.
    done["imported_audit_events_redacted"] = imported_audit_events_redact(
        user_id=user.pk, terms=[old_email, old_name], pseudonym=pseudonym
    )
    who = Actor.of(actor) if actor is not None else Actor.system("privacy erasure")
    from analytics.services import events_erase_person

    done.update(events_erase_person(user=user, actor=actor))
    done["audit_events_redacted"] = audit_redact_subject(
        user_id=user.pk, terms=terms, pseudonym=pseudonym, reason=reason, actor=who, target=_target(user)
    )
    # Each organization sees on its own chain that its member was erased; the platform chain has the summary.
    for membership in memberships:
        audit_record(org=membership.organization, event=events.PRIVACY_USER_ERASED, actor=who, target=_target(user),
                     metadata={"reason": reason[:200]})  # fmt: skip
    audit_record(org=None, event=events.PRIVACY_USER_ERASED, actor=who, target=_target(user),
                 metadata={"reason": reason[:200], **done})  # fmt: skip
    return done
