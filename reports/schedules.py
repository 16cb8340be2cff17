"""Schedules: their slots (local wall-clock times in a time zone), saving them, and the beat tick.

Exactly once per slot: the tick inserts one Delivery row per (schedule, slot) under a unique constraint and
queues only the rows its own insert created (marked with its claim token), so two beats, a retried tick or a
restarted worker never send a slot twice. After downtime only the last missed slot is sent.
"""

import calendar
import secrets
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from audit.services import audit_record, diff
from rbac.services import has_perm, require_perm
from reports import audit_events as events
from reports.models import Delivery, Recipient, Report, Schedule, Weekday
from reports.permissions import REPORTS_MANAGE
from reports.sections import sections
from reports.services import settings_of

MAX_RECIPIENTS = 100


# --- slots ---------------------------------------------------------------------------------------------------


def _day_matches(schedule: Schedule, day: date) -> bool:
    if schedule.frequency in (Schedule.Frequency.DAILY, Schedule.Frequency.WEEKLY):
        return not schedule.weekdays or day.weekday() in schedule.weekdays
    last = calendar.monthrange(day.year, day.month)[1]
    if schedule.day_of_month is not None:
        wanted = last if schedule.day_of_month == -1 else min(schedule.day_of_month, last)
        return day.day == wanted
    return day == ordinal_day(day.year, day.month, schedule.ordinal, schedule.ordinal_day)


def ordinal_day(year: int, month: int, ordinal: int, weekday: int) -> date | None:
    """The `ordinal`-th (1..4, -1 = last) `weekday` (0 = Monday .. 6, 7 = any weekday) of a month."""
    last = calendar.monthrange(year, month)[1]
    days = [date(year, month, d) for d in range(1, last + 1)]
    matching = [d for d in days if (d.weekday() < 5 if weekday == Weekday.WEEKDAY else d.weekday() == weekday)]
    if ordinal == -1:
        return matching[-1]
    return matching[ordinal - 1] if ordinal <= len(matching) else None


def _local_slot(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on a day. A time skipped by a DST jump is taken after the jump
    (02:30 on a spring-forward night is 03:30); a time that happens twice is its first occurrence."""
    # fold=0 (PEP 495) gives exactly that: a skipped time takes the offset from before the jump, which lands
    # after it; a repeated time is its first occurrence.
    return datetime.combine(day, at, tzinfo=tz).astimezone(ZoneInfo("UTC"))


def slots_after(schedule: Schedule, after: datetime, *, limit: int = 5) -> Iterator[datetime]:
    """The schedule's next slots strictly after `after`, as UTC datetimes."""
    tz = ZoneInfo(schedule.timezone)
    day = after.astimezone(tz).date()
    found, horizon = 0, day + timedelta(days=800)
    while found < limit and day < horizon:
        if _day_matches(schedule, day):
            slot = _local_slot(day, schedule.time_of_day, tz)
            if slot > after:
                found += 1
                yield slot
        day += timedelta(days=1)


def last_slot_at_or_before(schedule: Schedule, moment: datetime, *, not_before: datetime) -> datetime | None:
    """The latest slot in (not_before, moment]: after downtime, the one missed slot worth sending."""
    tz = ZoneInfo(schedule.timezone)
    day, stop = moment.astimezone(tz).date(), not_before.astimezone(tz).date() - timedelta(days=1)
    while day >= stop:
        if _day_matches(schedule, day):
            slot = _local_slot(day, schedule.time_of_day, tz)
            if not_before < slot <= moment:
                return slot
        day -= timedelta(days=1)
    return None


def next_runs(schedule: Schedule, *, now: datetime | None = None, count: int = 5) -> list[datetime]:
    return list(slots_after(schedule, now or timezone.now(), limit=count))


# --- saving --------------------------------------------------------------------------------------------------


def _clean_rule(values: dict) -> dict:
    frequency = values.get("frequency")
    if frequency not in Schedule.Frequency.values:
        raise ValidationError({"frequency": [f"One of: {', '.join(Schedule.Frequency.values)}."]})
    if values.get("timezone", "UTC") not in available_timezones():
        raise ValidationError({"timezone": ["An IANA time zone such as Europe/Berlin."]})
    weekdays = values.get("weekdays") or []
    if not isinstance(weekdays, list) or any(not isinstance(d, int) or not 0 <= d <= 6 for d in weekdays):
        raise ValidationError({"weekdays": ["A list of weekday numbers, 0 (Monday) to 6 (Sunday)."]})
    values["weekdays"] = sorted(set(weekdays))
    if frequency == Schedule.Frequency.WEEKLY and not weekdays:
        raise ValidationError({"weekdays": ["A weekly schedule runs on at least one weekday."]})
    if frequency == Schedule.Frequency.MONTHLY:
        dom, ordinal, day = values.get("day_of_month"), values.get("ordinal"), values.get("ordinal_day")
        if (dom is None) == (ordinal is None):
            raise ValidationError({"day_of_month": ["A monthly schedule has a day of the month or an ordinal rule "
                                                    "(ordinal and ordinal_day), not both."]})  # fmt: skip
        if dom is not None and not (1 <= dom <= 31 or dom == -1):
            raise ValidationError({"day_of_month": ["1 to 31, or -1 for the last day."]})
        if ordinal is not None:
            if ordinal not in (1, 2, 3, 4, -1):
                raise ValidationError({"ordinal": ["1 to 4, or -1 for the last."]})
            if day not in Weekday.values:
                raise ValidationError({"ordinal_day": ["0 (Monday) to 6 (Sunday), or 7 for any weekday."]})
    else:
        values["day_of_month"] = values["ordinal"] = values["ordinal_day"] = None
    return values


def _clean_recipients(*, org: Organization, report: Report, emails: list[str]) -> list[tuple[str, User | None]]:
    """Members who may see every section, or outside addresses of allowed domains for sections that allow it."""
    if not isinstance(emails, list) or not emails:
        raise ValidationError({"recipients": ["At least one e-mail address."]})
    if len(emails) > MAX_RECIPIENTS:
        raise ValidationError({"recipients": [f"At most {MAX_RECIPIENTS} recipients."]})
    emails = sorted({str(e).strip().lower() for e in emails})
    members = {
        m.user.email.lower(): m.user
        for m in Membership.objects.filter(organization=org, is_active=True, user__email__in=emails).select_related(
            "user"
        )
    }
    allowed_domains = set(settings_of(org).external_domains)
    needs = [(item["title"], sections[item["type"]]) for item in report.sections]
    errors, out = [], []
    for email in emails:
        if "@" not in email or len(email) > 254:
            errors.append(f"{email}: not an e-mail address.")
            continue
        user = members.get(email)
        if user is None:
            if email.rsplit("@", 1)[1] not in allowed_domains:
                errors.append(f"{email}: not a member, and its domain is not allowed for reports.")
                continue
            private = [title for title, kind in needs if not kind.external_ok]
            if private:
                errors.append(f"{email}: outside the organization may not receive {', '.join(private)}.")
                continue
        else:
            lacking = [f"{title} ({kind.permission})" for title, kind in needs
                       if kind.permission and not has_perm(user=user, org=org, perm=kind.permission)]  # fmt: skip
            if lacking:
                errors.append(f"{email}: may not see {', '.join(lacking)}.")
                continue
        out.append((email, user))
    if errors:
        raise ValidationError({"recipients": errors})
    return out


RULE_FIELDS = ("frequency", "time_of_day", "timezone", "weekdays", "day_of_month", "ordinal", "ordinal_day")
STATE_FIELDS = (*RULE_FIELDS, "attach_csv", "is_paused")


def _state(schedule: Schedule) -> dict:
    values = {name: getattr(schedule, name) for name in STATE_FIELDS}
    values["time_of_day"] = values["time_of_day"].isoformat() if values["time_of_day"] else None
    values["recipients"] = sorted(schedule.recipients.values_list("email", flat=True)) if schedule.pk else []
    return values


def _set_recipients(schedule: Schedule, recipients: list[tuple[str, User | None]]) -> None:
    keep = [email for email, _ in recipients]
    schedule.recipients.exclude(email__in=keep).delete()
    for email, user in recipients:
        Recipient.objects.get_or_create(organization=schedule.organization, schedule=schedule, email=email,
                                        defaults={"user": user})  # fmt: skip


@transaction.atomic
def schedule_create(*, actor: User, org: Organization, report: Report, recipients: list[str], **values) -> Schedule:
    """A schedule owned by `actor`: the report renders with their permissions (reports.manage)."""
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if report.organization_id != org.pk:
        raise ValidationError({"report": ["No such report in this organization."]})
    values = _clean_rule({"timezone": "UTC", **values})
    schedule = Schedule(organization=org, report=report, owner=actor, **values)
    targets = _clean_recipients(org=org, report=report, emails=recipients)
    schedule.next_run_at = next(slots_after(schedule, timezone.now(), limit=1), None)
    schedule.save()
    _set_recipients(schedule, targets)
    audit_record(org=org, event=events.SCHEDULE_CREATED, actor=actor, target=schedule,
                 changes=diff({}, _state(schedule)))  # fmt: skip
    return schedule


@transaction.atomic
def schedule_update(*, actor: User, org: Organization, schedule: Schedule, recipients=None, **changes) -> Schedule:
    """Change the rule, recipients, pause or resume. Resuming never sends the slots missed while paused."""
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if schedule.organization_id != org.pk:
        raise PermissionDenied("The schedule belongs to another organization.")
    unknown = set(changes) - set(STATE_FIELDS)
    if unknown:
        raise ValidationError({name: ["Cannot be changed."] for name in sorted(unknown)})
    schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
    before = _state(schedule)
    rule = _clean_rule({name: changes.get(name, getattr(schedule, name)) for name in RULE_FIELDS})
    for name, value in {**changes, **rule}.items():
        setattr(schedule, name, value)
    if recipients is not None:
        _set_recipients(schedule, _clean_recipients(org=org, report=schedule.report, emails=recipients))
    schedule.next_run_at = next(slots_after(schedule, timezone.now(), limit=1), None)
    schedule.save()
    changed = diff(before, _state(schedule))
    if changed:
        audit_record(org=org, event=events.SCHEDULE_UPDATED, actor=actor, target=schedule, changes=changed)
    return schedule


@transaction.atomic
def schedule_delete(*, actor: User, org: Organization, schedule: Schedule) -> None:
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if schedule.organization_id != org.pk:
        raise PermissionDenied("The schedule belongs to another organization.")
    audit_record(org=org, event=events.SCHEDULE_DELETED, actor=actor, target=schedule,
                 changes=diff(_state(schedule), {}))  # fmt: skip
    schedule.delete()


# --- the beat tick -------------------------------------------------------------------------------------------


RULE_COLUMNS = ("frequency", "time_of_day", "timezone", "weekdays", "day_of_month", "ordinal", "ordinal_day")


def schedules_dispatch(*, now: datetime | None = None, batch: int = 5000, enqueue: bool = True) -> list[int]:
    """Claim every due slot and queue its delivery; returns the ids of the deliveries this tick claimed.

    Reads plain values rather than model instances (a tick may find 10,000 due schedules), and works out the
    slots once per distinct rule: many schedules share one (09:00 on Mondays in UTC...)."""
    from reports.tasks import deliver

    now = now or timezone.now()
    claim = secrets.token_hex(16)
    due = Schedule.objects.filter(is_paused=False, next_run_at__lte=now)
    columns = ("pk", "organization_id", "report_id", "next_run_at", *RULE_COLUMNS)
    memo: dict[tuple, tuple[datetime | None, datetime | None]] = {}
    last = 0
    while page := list(due.filter(pk__gt=last).order_by("pk").values_list(*columns)[:batch]):
        last = page[-1][0]
        versions = dict(Report.objects.filter(pk__in={row[2] for row in page}).values_list("pk", "version"))
        rows, moves = [], defaultdict(list)
        for pk, org_id, report_id, next_run_at, *rule in page:
            key = (*(tuple(v) if isinstance(v, list) else v for v in rule), next_run_at)
            if key not in memo:
                schedule = Schedule(**dict(zip(RULE_COLUMNS, rule, strict=True)))
                # The last slot due by now, however many were missed; the earlier ones are skipped for good.
                memo[key] = (
                    last_slot_at_or_before(schedule, now, not_before=next_run_at - timedelta(seconds=1)),
                    next(slots_after(schedule, now, limit=1), None),
                )
            slot, following = memo[key]
            if slot is not None:
                rows.append(Delivery(organization_id=org_id, kind=Delivery.Kind.SCHEDULED, report_id=report_id,
                                     version=versions.get(report_id), schedule_id=pk, slot=slot,
                                     claim=claim))  # fmt: skip
            moves[following].append(pk)
        with transaction.atomic():
            # A row another tick inserted first stays as it was (and keeps that tick's claim).
            Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
            for following, ids in moves.items():
                Schedule.objects.filter(pk__in=ids).update(next_run_at=following)
    claimed = list(Delivery.objects.filter(claim=claim).order_by("pk").values_list("pk", flat=True))
    if enqueue:
        for pk in claimed:
            deliver.delay(pk)
    return claimed
