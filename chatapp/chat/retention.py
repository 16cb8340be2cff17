"""Message retention: per-organization policy, per-channel overrides, legal holds, the preview and the run.

One selector, `messages_expiring`, decides which messages go. The preview counts it and the run consumes it
batch by batch, both measured from the same `now`, so a run removes exactly what its preview announced (less
anything placed under hold in between). Policies and holds are data; changes to them and every run are in the
audit trail (docs/data-protection.md, "Message retention").
"""

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import Membership, Organization, User
from audit.services import Actor, audit_record, diff
from chatapp.chat import audit_events as events
from chatapp.chat.models import (
    RETENTION_MAX_DAYS,
    Channel,
    ChannelRetentionOverride,
    LegalHold,
    Message,
    MessageRetentionPolicy,
    RetentionAction,
    RetentionRun,
)
from chatapp.chat.permissions import RETENTION_MANAGE
from chatapp.kernel.errors import Conflict
from rbac.services import require_perm

ANONYMIZED_BODY = "[removed by retention policy]"
BATCH_SIZE = 1000
# A run stops after this long and leaves the rest to its continuation: no single task holds a worker for hours.
RUN_MAX_SECONDS = 240.0


@dataclass(frozen=True)
class Rules:
    """A policy as the selector reads it: the saved one, or a proposed one for the preview (never saved)."""

    enabled: bool
    days: int
    action: str
    overrides: dict[int, int | None] = field(default_factory=dict)  # channel id -> days, None: kept for good


def rules_of(org: Organization) -> Rules:
    """The organization's saved policy (off when it never set one)."""
    policy = MessageRetentionPolicy.objects.for_org(org).first() or MessageRetentionPolicy(organization=org)
    overrides = dict(ChannelRetentionOverride.objects.for_org(org).values_list("channel_id", "days"))
    return Rules(enabled=policy.enabled, days=policy.days, action=policy.action, overrides=overrides)


def _check_days(value, name: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= RETENTION_MAX_DAYS:
        raise ValidationError({name: [f"A whole number of days from 1 to {RETENTION_MAX_DAYS}."]})


def rules_from(
    *, org: Organization, enabled: bool, days: int, action: str, overrides: list[dict] | None = None
) -> Rules:
    """Validate a proposed policy. `overrides` is [{"channel": id, "days": n or None}]; None keeps the saved ones."""
    _check_days(days, "days")
    if action not in RetentionAction.values:
        raise ValidationError({"action": [f"One of: {', '.join(RetentionAction.values)}."]})
    if overrides is None:
        by_channel = rules_of(org).overrides
    else:
        by_channel = {}
        for item in overrides:
            _check_days(item.get("days"), "overrides", allow_none=True)
            if item["channel"] in by_channel:
                raise ValidationError({"overrides": [f"Channel {item['channel']} is listed twice."]})
            by_channel[item["channel"]] = item.get("days")
        known = set(Channel.objects.for_org(org).filter(pk__in=by_channel).values_list("pk", flat=True))
        unknown = sorted(set(by_channel) - known)
        if unknown:  # another organization's channel reads as a missing one
            raise ValidationError({"overrides": [f"No such channel in this organization: {unknown}."]})
    return Rules(enabled=bool(enabled), days=days, action=action, overrides=by_channel)


def messages_expiring(*, org: Organization, rules: Rules, now: datetime) -> QuerySet[Message]:
    """The messages the policy removes at `now`: the single definition shared by the preview and the run."""
    if not rules.enabled:
        return Message.objects.none()
    due = Q(created__lt=now - timedelta(days=rules.days))
    if rules.overrides:
        due &= ~Q(channel_id__in=list(rules.overrides))
        by_days = defaultdict(list)
        for channel_id, days in rules.overrides.items():
            if days is not None:  # None: the channel is kept, so it gets no condition at all
                by_days[days].append(channel_id)
        for days, channel_ids in by_days.items():  # one condition per distinct age, however many channels
            due |= Q(channel_id__in=channel_ids, created__lt=now - timedelta(days=days))
    # Active holds as subqueries of this same query: a hold placed during a run protects from the next batch on.
    holds = LegalHold.objects.for_org(org).filter(released_at__isnull=True)
    expiring = (
        Message.objects.for_org(org)
        .filter(due)
        .exclude(channel_id__in=holds.filter(channel__isnull=False).values("channel_id"))
        .exclude(author_id__in=holds.filter(user__isnull=False).values("user_id"))
    )
    if rules.action == RetentionAction.ANONYMIZE:
        expiring = expiring.filter(anonymized__isnull=True)  # done once: a second run finds nothing to do
    return expiring


def retention_preview(*, org: Organization, rules: Rules, now: datetime | None = None) -> dict:
    """The dry run: how many messages per channel the policy would remove now. Writes nothing."""
    now = now or timezone.now()
    counts = dict(
        messages_expiring(org=org, rules=rules, now=now)
        .order_by()
        .values("channel_id")
        .annotate(n=Count("pk"))
        .values_list("channel_id", "n")
    )
    names = dict(Channel.objects.for_org(org).filter(pk__in=counts).values_list("pk", "name"))
    channels = [{"channel": pk, "name": names.get(pk, ""), "messages": n} for pk, n in counts.items()]
    channels.sort(key=lambda row: (-row["messages"], row["name"]))
    return {"now": now, "action": rules.action, "total": sum(counts.values()), "channels": channels}


def _policy_state(org: Organization) -> dict:
    rules = rules_of(org)
    return {"enabled": rules.enabled, "days": rules.days, "action": rules.action,
            "overrides": {str(pk): days for pk, days in sorted(rules.overrides.items())}}  # fmt: skip


@transaction.atomic
def retention_policy_set(
    *, actor: User, org: Organization, enabled: bool, days: int, action: str, overrides: list[dict] | None = None
) -> MessageRetentionPolicy:
    """Save the organization's policy and, when given, replace its channel overrides (retention.manage)."""
    require_perm(user=actor, org=org, perm=RETENTION_MANAGE)
    rules = rules_from(org=org, enabled=enabled, days=days, action=action, overrides=overrides)
    # Created without a race (two first saves at once), then locked: concurrent saves apply one after the other.
    MessageRetentionPolicy.objects.bulk_create([MessageRetentionPolicy(organization=org)], ignore_conflicts=True)
    policy = MessageRetentionPolicy.objects.select_for_update().get(organization=org)
    before = _policy_state(org)
    policy.enabled, policy.days, policy.action = rules.enabled, rules.days, rules.action
    policy.updated, policy.updated_by = timezone.now(), actor
    policy.save()
    if overrides is not None:
        ChannelRetentionOverride.objects.for_org(org).exclude(channel_id__in=list(rules.overrides)).delete()
        for channel_id, channel_days in rules.overrides.items():
            ChannelRetentionOverride.objects.update_or_create(
                organization=org, channel_id=channel_id, defaults={"days": channel_days}
            )
    changes = diff(before, _policy_state(org))
    if changes:
        audit_record(org=org, event=events.RETENTION_POLICY_CHANGED, actor=actor, target=policy, changes=changes)
    return policy


def _hold_state(hold: LegalHold) -> dict:
    return {"channel_id": hold.channel_id, "user_id": hold.user_id, "reason": hold.reason,
            "released_at": hold.released_at.isoformat() if hold.released_at else None}  # fmt: skip


@transaction.atomic
def legal_hold_place(
    *, actor: User, org: Organization, reason: str, channel: Channel | None = None, user: User | None = None
) -> LegalHold:
    """Suspend retention for a channel's messages or a user's (as author), until released (retention.manage)."""
    require_perm(user=actor, org=org, perm=RETENTION_MANAGE)
    if (channel is None) == (user is None):
        raise ValidationError("A legal hold covers either one channel or one user.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the messages are held (the matter or case)."]})
    if len(reason) > 500:
        raise ValidationError({"reason": ["At most 500 characters."]})
    if channel is not None and channel.organization_id != org.pk:
        raise ValidationError({"channel_id": ["No such channel in this organization."]})
    # Former members too: holding a departed employee's messages is the usual case.
    if user is not None and not Membership.objects.filter(organization=org, user=user).exists():
        raise ValidationError({"user_id": ["No such member in this organization."]})
    hold = LegalHold.objects.create(organization=org, channel=channel, user=user, reason=reason, created_by=actor)
    audit_record(org=org, event=events.LEGAL_HOLD_PLACED, actor=actor, target=hold, changes=diff({}, _hold_state(hold)))
    return hold


@transaction.atomic
def legal_hold_release(*, actor: User, org: Organization, hold: LegalHold) -> LegalHold:
    """End a hold (the row stays as the record). Releasing a released hold is refused with 409."""
    require_perm(user=actor, org=org, perm=RETENTION_MANAGE)
    if hold.organization_id != org.pk:
        raise ValidationError("The hold belongs to another organization.")
    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.released_at is not None:
        raise Conflict("The hold was already released.")
    before = _hold_state(hold)
    hold.released_at, hold.released_by = timezone.now(), actor
    hold.save(update_fields=["released_at", "released_by"])
    audit_record(
        org=org, event=events.LEGAL_HOLD_RELEASED, actor=actor, target=hold, changes=diff(before, _hold_state(hold))
    )
    return hold


def retention_run(
    *, org: Organization, now: datetime | None = None, batch: int = BATCH_SIZE, max_seconds: float = RUN_MAX_SECONDS
) -> RetentionRun | None:
    """Apply the organization's saved policy in batches; None when it has no enabled policy.

    Each batch commits on its own with the run's counts, so a crash loses nothing already counted, and the next
    run picks up where this one stopped (the selector no longer finds what was done). Past `max_seconds` the run
    ends as `partial`; its task queues a continuation.
    """
    rules = rules_of(org)
    if not rules.enabled:
        return None
    now = now or timezone.now()
    run = RetentionRun.objects.create(organization=org, cutoff_now=now, action=rules.action, days=rules.days)
    deadline = time.monotonic() + max_seconds
    status = RetentionRun.Status.DONE
    while True:
        with transaction.atomic():
            # Locked rows: two runs at once (a continuation and the daily one) never count a message twice.
            expiring = messages_expiring(org=org, rules=rules, now=now).select_for_update(of=("self",))
            rows = list(expiring.order_by("pk").values_list("pk", "channel_id")[:batch])
            if not rows:
                break
            done = Message.objects.filter(pk__in=[pk for pk, _ in rows])
            if rules.action == RetentionAction.DELETE:
                done.delete()
            else:
                done.update(body=ANONYMIZED_BODY, author=None, anonymized=timezone.now())
            for channel_id, n in Counter(channel_id for _, channel_id in rows).items():
                run.per_channel[str(channel_id)] = run.per_channel.get(str(channel_id), 0) + n
            run.processed += len(rows)
            run.save(update_fields=["processed", "per_channel"])
        if time.monotonic() >= deadline:
            status = RetentionRun.Status.PARTIAL
            break
    with transaction.atomic():
        run.status, run.finished = status, timezone.now()
        run.save(update_fields=["status", "finished"])
        audit_record(
            org=org, event=events.RETENTION_RUN_FINISHED, actor=Actor.system("message retention"), target=run,
            metadata={"run_id": run.pk, "status": status, "action": run.action, "days": run.days,
                      "processed": run.processed, "per_channel": run.per_channel, "cutoff_now": now.isoformat()},
        )  # fmt: skip
    return run


def organizations_with_retention() -> QuerySet[Organization]:
    """Organizations whose policy is on: the daily job visits these only."""
    enabled = MessageRetentionPolicy.objects.filter(enabled=True).values("organization_id")
    return Organization.objects.filter(pk__in=enabled)
