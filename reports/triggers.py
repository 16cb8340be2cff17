"""Threshold triggers: a metric past a threshold for a duration sends an alert (and the trigger's report).

    ok --breach--> pending --breach lasted `duration`, cooldown over--> firing --value past clear_threshold--> ok

Hysteresis: a firing trigger clears only once the value is past `clear_threshold` (below it for "above"
triggers), so a value hovering at the threshold does not flap. Cooldown: no new firing within `cooldown` of the
last one, whatever the state changes in between.
"""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, User
from audit.services import Actor, audit_record, diff, snapshot
from rbac.services import require_perm
from reports import audit_events as events
from reports.metrics import available, metric_series
from reports.models import Delivery, Recipient, Report, Trigger
from reports.permissions import REPORTS_MANAGE

FIELDS = ("name", "metric", "window_minutes", "direction", "threshold", "clear_threshold", "duration_minutes",
          "cooldown_minutes", "is_active")  # fmt: skip


def _breaching(trigger: Trigger, value: float) -> bool:
    return value > trigger.threshold if trigger.direction == Trigger.Direction.ABOVE else value < trigger.threshold


def _cleared(trigger: Trigger, value: float) -> bool:
    if trigger.direction == Trigger.Direction.ABOVE:
        return value < trigger.clear_threshold
    return value > trigger.clear_threshold


def trigger_value(trigger: Trigger, now: datetime) -> float:
    start = now - timedelta(minutes=trigger.window_minutes)
    series = metric_series(trigger.metric, org=trigger.organization, start=start, end=now, interval=None)
    return series[0][1] if series else 0.0


def trigger_step(trigger: Trigger, *, value: float, now: datetime) -> str:
    """Advance the state machine with one observation; returns "fire", "clear" or "" (and updates `trigger`)."""
    trigger.last_value, trigger.last_evaluated_at = value, now
    breaching = _breaching(trigger, value)
    if trigger.state == Trigger.State.FIRING:
        if _cleared(trigger, value):
            trigger.state, trigger.breach_since = Trigger.State.OK, None
            return "clear"
        return ""
    if not breaching:
        trigger.state, trigger.breach_since = Trigger.State.OK, None
        return ""
    if trigger.state == Trigger.State.OK:
        trigger.state, trigger.breach_since = Trigger.State.PENDING, now
    lasted = now - trigger.breach_since >= timedelta(minutes=trigger.duration_minutes)
    cooled = trigger.last_fired_at is None or now - trigger.last_fired_at >= timedelta(minutes=trigger.cooldown_minutes)
    if lasted and cooled:
        trigger.state, trigger.last_fired_at = Trigger.State.FIRING, now
        return "fire"
    return ""


def trigger_evaluate(*, trigger: Trigger, now: datetime | None = None) -> Delivery | None:
    """Observe the metric now and act: a firing creates a delivery (queued on commit) and an audit event."""
    now = now or timezone.now()
    value = trigger_value(trigger, now)
    with transaction.atomic():
        trigger = (
            Trigger.objects.select_for_update(of=("self",)).select_related("organization", "report").get(pk=trigger.pk)
        )
        outcome = trigger_step(trigger, value=value, now=now)
        trigger.save()
        delivery = None
        if outcome == "fire":
            summary = (f"{trigger.name}: {available()[trigger.metric].title} was {value:,.0f} over the last "
                       f"{trigger.window_minutes} minutes, {trigger.direction} the threshold of "
                       f"{trigger.threshold:,.0f} for {trigger.duration_minutes} minutes or more.")  # fmt: skip
            delivery = Delivery.objects.create(
                organization=trigger.organization, kind=Delivery.Kind.TRIGGER, trigger=trigger, slot=now,
                report=trigger.report, version=trigger.report.version if trigger.report else None, summary=summary,
            )  # fmt: skip
            audit_record(org=trigger.organization, event=events.TRIGGER_FIRED, actor=Actor.system("reports.triggers"),
                         target=trigger, metadata={"value": value, "delivery": delivery.pk})  # fmt: skip
            from reports.tasks import deliver

            transaction.on_commit(lambda: deliver.delay(delivery.pk))
        elif outcome == "clear":
            audit_record(org=trigger.organization, event=events.TRIGGER_CLEARED,
                         actor=Actor.system("reports.triggers"), target=trigger, metadata={"value": value})  # fmt: skip
    return delivery


def triggers_evaluate(*, now: datetime | None = None) -> int:
    count = 0
    for trigger in Trigger.objects.filter(is_active=True).select_related("organization").iterator():
        trigger_evaluate(trigger=trigger, now=now)
        count += 1
    return count


def _clean(values: dict) -> dict:
    if "metric" in values and values["metric"] not in available():
        raise ValidationError({"metric": [f"One of: {', '.join(available())}."]})
    if "direction" in values and values["direction"] not in Trigger.Direction.values:
        raise ValidationError({"direction": ["above or below."]})
    if "name" in values and not (values["name"] or "").strip():
        raise ValidationError({"name": ["A trigger needs a name."]})
    return values


def _check_hysteresis(trigger: Trigger) -> None:
    wrong = (trigger.clear_threshold > trigger.threshold if trigger.direction == Trigger.Direction.ABOVE
             else trigger.clear_threshold < trigger.threshold)  # fmt: skip
    if wrong:
        side = "at or below" if trigger.direction == Trigger.Direction.ABOVE else "at or above"
        raise ValidationError({"clear_threshold": [f"Must be {side} the threshold (that gap is the hysteresis)."]})


@transaction.atomic
def trigger_create(*, actor: User, org: Organization, recipients: list[str], report: Report | None = None,
                   **values) -> Trigger:  # fmt: skip
    from reports.schedules import _clean_recipients

    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if report is not None and report.organization_id != org.pk:
        raise ValidationError({"report": ["No such report in this organization."]})
    values = _clean(values)
    values.setdefault("clear_threshold", values.get("threshold"))
    trigger = Trigger(organization=org, owner=actor, report=report, **values)
    _check_hysteresis(trigger)
    targets = _clean_recipients(org=org, report=report or Report(sections=[]), emails=recipients)
    trigger.save()
    for email, user in targets:
        Recipient.objects.create(organization=org, trigger=trigger, email=email, user=user)
    audit_record(org=org, event=events.TRIGGER_CREATED, actor=actor, target=trigger,
                 changes=diff({}, snapshot(trigger, FIELDS)))  # fmt: skip
    return trigger


@transaction.atomic
def trigger_update(*, actor: User, org: Organization, trigger: Trigger, **changes) -> Trigger:
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if trigger.organization_id != org.pk:
        raise PermissionDenied("The trigger belongs to another organization.")
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValidationError({name: ["Cannot be changed."] for name in sorted(unknown)})
    trigger = Trigger.objects.select_for_update().get(pk=trigger.pk)
    before = snapshot(trigger, FIELDS)
    for name, value in _clean(changes).items():
        setattr(trigger, name, value)
    _check_hysteresis(trigger)
    trigger.save()
    changed = diff(before, snapshot(trigger, FIELDS))
    if changed:
        audit_record(org=org, event=events.TRIGGER_UPDATED, actor=actor, target=trigger, changes=changed)
    return trigger


@transaction.atomic
def trigger_delete(*, actor: User, org: Organization, trigger: Trigger) -> None:
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if trigger.organization_id != org.pk:
        raise PermissionDenied("The trigger belongs to another organization.")
    audit_record(org=org, event=events.TRIGGER_DELETED, actor=actor, target=trigger,
                 changes=diff(snapshot(trigger, FIELDS), {}))  # fmt: skip
    trigger.delete()
