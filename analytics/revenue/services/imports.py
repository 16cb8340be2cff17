"""Importing subscriptions from CSV (history from before Stripe, invoicing done elsewhere, other billing systems).

All or nothing: every row is validated first and every problem is reported with its line number; the file is
written only when it has none, in one transaction with one audit event. Importing the same file again changes
nothing (each row is a revision keyed by subscription and effective date).

Columns (header row required, order free, names case-insensitive):

    subscription  required  your id of the subscription (unique across Stripe and CSV)
    customer      one of    the paying account's id (defaults to the organization's slug)
    org           these     the chatapp organization's slug (optional when customer is given)
    plan          required  plan code; created on first use
    seats         required  whole number >= 0
    price         required  price per seat and interval in major units ("49.00"; "4900" for JPY)
    currency      required  ISO 4217 code
    interval      required  month, year, week or day
    interval_count optional  default 1
    start         required  ISO date or date-time (UTC) the subscription started
    effective     optional  from when this row's terms apply (default: start); several rows of one
                            subscription with different dates give its history (upgrades, downgrades)
    cancel        optional  ISO date or date-time it ended (its MRR stops then)
    customer_name, plan_name  optional labels
"""

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import Organization
from analytics.revenue import money
from analytics.revenue.access import require_manage
from analytics.revenue.audit_events import CSV_IMPORTED
from analytics.revenue.models import CsvImport, Customer, Interval, Plan, Source, Subscription, SubscriptionStatus
from analytics.revenue.services.subscriptions import ItemState, SubscriptionState, subscription_apply
from audit.services import Target, audit_record

REQUIRED = ("subscription", "plan", "seats", "price", "currency", "interval", "start")
OPTIONAL = ("customer", "org", "interval_count", "effective", "cancel", "customer_name", "plan_name")
MAX_BYTES = 20 * 1024 * 1024
MAX_ERRORS = 200


class ImportRejected(Exception):
    """The file has problems; nothing was written. `errors` lists them as 'line N: column: message'."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s); nothing was imported")


@dataclass
class Row:
    line: int
    subscription: str
    customer: str
    customer_name: str
    org_id: int | None
    plan: str
    plan_name: str
    seats: int
    price: int
    currency: str
    interval: str
    interval_count: int
    start: datetime
    effective: datetime
    cancel: datetime | None


@dataclass
class ImportResult:
    rows: int
    subscriptions_created: int = 0
    subscriptions_updated: int = 0
    dry_run: bool = False
    subscriptions: list[str] = field(default_factory=list)


def _when(text: str) -> datetime:
    value = parse_datetime(text)
    if value is None:
        day = parse_date(text)
        if day is None:
            raise ValueError("use an ISO date (2026-01-31) or date-time (2026-01-31T12:00:00Z)")
        return datetime.combine(day, time.min, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _read(content: bytes) -> tuple[list[dict], list[str]]:
    if len(content) > MAX_BYTES:
        raise ImportRejected([f"file: larger than {MAX_BYTES // (1024 * 1024)} MB"])
    try:
        text = content.decode("utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError as exc:
        raise ImportRejected([f"file: not UTF-8 (byte {exc.start})"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    if not header:
        raise ImportRejected(["line 1: the file is empty (a header row is required)"])
    problems = [f"line 1: missing column '{name}'" for name in REQUIRED if name not in header]
    problems += [f"line 1: unknown column '{name}'" for name in header if name not in REQUIRED + OPTIONAL]
    if "customer" not in header and "org" not in header:
        problems.append("line 1: a 'customer' or an 'org' column is required")
    if len(set(header)) != len(header):
        problems.append("line 1: a column is named twice")
    if problems:
        raise ImportRejected(problems)
    reader.fieldnames = header
    rows = []
    try:
        for raw in reader:
            if None in raw:
                problems.append(f"line {reader.line_num}: more values than columns")
                continue
            rows.append({"line": reader.line_num, **{k: (v or "").strip() for k, v in raw.items()}})
    except csv.Error as exc:
        raise ImportRejected([f"line {reader.line_num}: {exc}"]) from None
    return rows, problems


def _validate(raw: dict, orgs: dict[str, int], errors: list[str]) -> Row | None:
    line, bad = raw["line"], []

    def need(name):
        if not raw.get(name):
            bad.append(f"line {line}: {name}: required")
            return None
        return raw[name]

    subscription, plan = need("subscription"), need("plan")
    org_slug = raw.get("org", "")
    org_id = None
    if org_slug:
        org_id = orgs.get(org_slug)
        if org_id is None:
            bad.append(f"line {line}: org: no organization with slug '{org_slug}'")
    customer = raw.get("customer") or org_slug
    if not customer:
        bad.append(f"line {line}: customer: required when org is empty")
    currency = None
    if need("currency"):
        try:
            currency = money.normalize_currency(raw["currency"])
        except money.MoneyError as exc:
            bad.append(f"line {line}: currency: {exc}")
    price = None
    if need("price") and currency:
        try:
            price = money.to_minor(raw["price"], currency)
            if price < 0:
                bad.append(f"line {line}: price: must not be negative")
        except money.MoneyError as exc:
            bad.append(f"line {line}: price: {exc}")
    seats = None
    if need("seats"):
        if raw["seats"].isdigit():
            seats = int(raw["seats"])
        else:
            bad.append(f"line {line}: seats: '{raw['seats']}' is not a whole number >= 0")
    interval = need("interval")
    if interval and interval.lower() not in Interval.values:
        bad.append(f"line {line}: interval: '{interval}' is not one of {', '.join(Interval.values)}")
    count_text = raw.get("interval_count") or "1"
    count = int(count_text) if count_text.isdigit() and int(count_text) >= 1 else None
    if count is None:
        bad.append(f"line {line}: interval_count: '{count_text}' is not a whole number >= 1")
    dates = {}
    for name in ("start", "effective", "cancel"):
        if raw.get(name):
            try:
                dates[name] = _when(raw[name])
            except ValueError as exc:
                bad.append(f"line {line}: {name}: '{raw[name]}': {exc}")
    if not raw.get("start"):
        bad.append(f"line {line}: start: required")
    start, cancel = dates.get("start"), dates.get("cancel")
    effective = dates.get("effective", start)
    if start and cancel and cancel < start:
        bad.append(f"line {line}: cancel: before start")
    if start and effective and effective < start:
        bad.append(f"line {line}: effective: before start")
    if effective and cancel and effective >= cancel:
        bad.append(f"line {line}: effective: not before cancel")
    for name, limit in (("subscription", 255), ("customer", 255), ("plan", 255)):
        if len(raw.get(name, "")) > limit:
            bad.append(f"line {line}: {name}: longer than {limit} characters")
    errors.extend(bad)
    if bad:
        return None
    return Row(
        line=line, subscription=subscription, customer=customer, customer_name=raw.get("customer_name", "")[:200],
        org_id=org_id, plan=plan, plan_name=raw.get("plan_name", "")[:200], seats=seats, price=price,
        currency=currency, interval=interval.lower(), interval_count=count, start=start, effective=effective,
        cancel=cancel,
    )  # fmt: skip


def _cross_check(rows: list[Row], errors: list[str]) -> None:
    """Rows of one subscription must agree on customer, start and cancel, and have distinct effective dates."""
    first: dict[str, Row] = {}
    seen: set[tuple[str, datetime]] = set()
    for row in rows:
        key = (row.subscription, row.effective)
        if key in seen:
            errors.append(f"line {row.line}: effective: a second row for {row.subscription} from the same date")
        seen.add(key)
        head = first.setdefault(row.subscription, row)
        for name in ("customer", "start", "cancel"):
            if getattr(row, name) != getattr(head, name):
                errors.append(f"line {row.line}: {name}: differs from line {head.line} for {row.subscription}")
    existing = dict(
        Subscription.objects.filter(external_id__in=list(first)).values_list("external_id", "customer__external_id")
    )
    for ref, row in first.items():
        if ref in existing and existing[ref] != row.customer:
            errors.append(f"line {row.line}: customer: {ref} belongs to customer {existing[ref]} already")


def csv_import(*, actor, content: bytes, filename: str, dry_run: bool = False) -> ImportResult:
    """Validate the whole file, then (unless `dry_run`) write it in one transaction. Raises ImportRejected."""
    require_manage(actor)
    raw_rows, errors = _read(content)
    orgs = dict(
        Organization.objects.filter(slug__in={r.get("org") for r in raw_rows if r.get("org")}).values_list("slug", "pk")
    )
    rows = [row for raw in raw_rows if (row := _validate(raw, orgs, errors)) is not None]
    if not errors:
        _cross_check(rows, errors)
    if not raw_rows and not errors:
        errors.append("line 2: the file has a header but no rows")
    if errors:
        extra = len(errors) - MAX_ERRORS
        raise ImportRejected(errors[:MAX_ERRORS] + ([f"... and {extra} more"] if extra > 0 else []))
    by_subscription: dict[str, list[Row]] = {}
    for row in rows:
        by_subscription.setdefault(row.subscription, []).append(row)
    result = ImportResult(rows=len(rows), dry_run=dry_run, subscriptions=sorted(by_subscription))
    if dry_run:
        known = Subscription.objects.filter(external_id__in=list(by_subscription))
        existing = set(known.values_list("external_id", flat=True))
        result.subscriptions_updated = len(existing)
        result.subscriptions_created = len(by_subscription) - len(existing)
        return result
    with transaction.atomic():
        for _ref, history in by_subscription.items():
            created = _write(sorted(history, key=lambda row: row.effective))
            result.subscriptions_created += created
            result.subscriptions_updated += not created
        record = CsvImport.objects.create(
            filename=filename[:255], sha256=hashlib.sha256(content).hexdigest(), rows=result.rows,
            subscriptions_created=result.subscriptions_created, subscriptions_updated=result.subscriptions_updated,
            imported_by=actor if getattr(actor, "is_authenticated", False) else None,
        )  # fmt: skip
        audit_record(
            org=None, event=CSV_IMPORTED, actor=actor,
            target=Target("revenue.csvimport", str(record.pk), filename[:255]),
            metadata={"rows": result.rows, "created": result.subscriptions_created,
                      "updated": result.subscriptions_updated, "sha256": record.sha256},
        )  # fmt: skip
    return result


def _plan(row: Row) -> Plan:
    plan, _ = Plan.objects.get_or_create(
        external_id=row.plan,
        defaults={
            "name": row.plan_name, "currency": row.currency, "unit_amount": row.price, "interval": row.interval,
            "interval_count": row.interval_count, "source": Source.CSV,
        },
    )  # fmt: skip
    return plan


def _write(history: list[Row]) -> bool:
    """Apply one subscription's rows in date order, then its end; returns whether the subscription is new."""
    head = history[0]
    customer, _ = Customer.objects.get_or_create(
        external_id=head.customer, defaults={"source": Source.CSV, "organization_id": head.org_id}
    )
    if head.customer_name and customer.name != head.customer_name:
        customer.name = head.customer_name
        customer.save(update_fields=["name"])
    created = False
    for row in history:
        state = _state(row, customer, SubscriptionStatus.ACTIVE)
        applied = subscription_apply(
            state=state, effective_at=row.effective, observed_at=row.effective, source=Source.CSV,
            source_ref=f"csv:{row.effective.isoformat()}",
        )  # fmt: skip
        created = created or applied.created
    if head.cancel:
        last = history[-1]
        state = _state(last, customer, SubscriptionStatus.CANCELED)
        state.canceled_at = state.ended_at = head.cancel
        subscription_apply(
            state=state, effective_at=head.cancel, observed_at=head.cancel, source=Source.CSV, source_ref="csv:cancel"
        )
    return created


def _state(row: Row, customer: Customer, status: str) -> SubscriptionState:
    # The row's own price and interval count, whatever the plan's list price (a negotiated price is common).
    item = ItemState(
        external_id=f"{row.subscription}:{row.plan}", plan=_plan(row), quantity=row.seats, unit_amount=row.price
    )
    return SubscriptionState(
        external_id=row.subscription, customer=customer, organization_id=row.org_id, status=status,
        currency=row.currency, started_at=row.start, items=[item], billing=(row.interval, row.interval_count),
    )  # fmt: skip
