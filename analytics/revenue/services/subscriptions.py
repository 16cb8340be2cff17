"""Applying a known state of a subscription: the one write path shared by Stripe events and CSV imports.

A state is applied in two independent ways:

- as a **revision** (history): always, once per source (`source_ref` unique per subscription), stamped with the
  time it took effect. This is what MRR is computed from, so arrival order does not matter.
- as the **current state** of the `Subscription` row: only when it is at least as new (`observed_at`) as the
  state already there, so an old event that arrives late never overwrites a newer one.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from analytics.revenue import money
from analytics.revenue.models import (
    MRR_STATUSES,
    Customer,
    Plan,
    Subscription,
    SubscriptionItem,
    SubscriptionRevision,
)


@dataclass(frozen=True)
class ItemState:
    external_id: str
    plan: Plan
    quantity: int
    unit_amount: Decimal  # minor units per interval and seat (Stripe allows fractions: unit_amount_decimal)
    metered: bool = False


@dataclass
class SubscriptionState:
    """Everything we keep about a subscription at one instant, whatever its source."""

    external_id: str
    customer: Customer
    status: str
    currency: str
    started_at: datetime
    items: list[ItemState] = field(default_factory=list)
    organization_id: int | None = None
    percent_off: Decimal | None = None  # a recurring discount (forever or repeating coupon)
    amount_off: int | None = None  # minor units off each interval
    trial_end: datetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    ended_at: datetime | None = None
    billing: tuple[str, int] | None = None  # (interval, count) when it is not the plan's (CSV rows)

    @property
    def _licensed(self) -> list[ItemState]:
        return [item for item in self.items if not item.metered]

    @property
    def interval(self) -> tuple[str, int]:
        # Stripe requires every item of a subscription to share one billing interval.
        if self.billing:
            return self.billing
        first = self._licensed[0].plan if self._licensed else (self.items[0].plan if self.items else None)
        return (first.interval, first.interval_count) if first else ("month", 1)

    @property
    def amount(self) -> Decimal:
        """The recurring amount per interval after discounts, in minor units (usage-based items excluded)."""
        total = sum((item.unit_amount * item.quantity for item in self._licensed), Decimal(0))
        if self.percent_off:
            total = total * (Decimal(100) - self.percent_off) / Decimal(100)
        if self.amount_off:
            total -= self.amount_off
        return max(total, Decimal(0))

    @property
    def seats(self) -> int:
        return sum(item.quantity for item in self._licensed)

    @property
    def mrr(self) -> int:
        """Monthly recurring revenue in minor units: only active and past-due subscriptions count."""
        if self.status not in MRR_STATUSES:
            return 0
        interval, count = self.interval
        return money.round_minor(money.monthly(self.amount, interval=interval, interval_count=count))

    @property
    def main_plan(self) -> Plan | None:
        items = self._licensed or self.items
        return items[0].plan if items else None


@dataclass(frozen=True)
class Applied:
    subscription: Subscription
    created: bool  # a new subscription row
    current: bool  # the state became the subscription's current state


def _current_fields(state: SubscriptionState, observed_at: datetime, source: str) -> dict:
    interval, count = state.interval
    return {
        "customer": state.customer,
        "organization_id": state.organization_id or state.customer.organization_id,
        "plan": state.main_plan,
        "status": state.status,
        "seats": state.seats,
        "currency": state.currency,
        "amount": money.round_minor(state.amount),
        "interval": interval,
        "interval_count": count,
        "mrr": state.mrr,
        "started_at": state.started_at,
        "trial_end": state.trial_end,
        "cancel_at_period_end": state.cancel_at_period_end,
        "canceled_at": state.canceled_at,
        "ended_at": state.ended_at,
        "source": source,
        "source_updated_at": observed_at,
    }


def _lock_or_create(state: SubscriptionState, fields: dict) -> tuple[Subscription, bool]:
    """The subscription row, locked for this transaction; created if new (a concurrent creator may win the race)."""
    subscription = Subscription.objects.select_for_update().filter(external_id=state.external_id).first()
    if subscription is not None:
        return subscription, False
    try:
        with transaction.atomic():
            return Subscription.objects.create(external_id=state.external_id, **fields), True
    except IntegrityError:
        return Subscription.objects.select_for_update().get(external_id=state.external_id), False


def subscription_apply(
    *, state: SubscriptionState, effective_at: datetime, observed_at: datetime, source: str, source_ref: str
) -> Applied:
    """Record `state` as the subscription's state from `effective_at` (history) and, if it is the newest seen
    (`observed_at`), as its current state. Safe to call twice with the same `source_ref`."""
    fields = _current_fields(state, observed_at, source)
    # No savepoint of its own: callers run it inside theirs (a Stripe event's, a CSV import's transaction).
    with transaction.atomic(savepoint=False):
        subscription, created = _lock_or_create(state, fields)
        current = created or observed_at >= subscription.source_updated_at
        if current:
            if not created:
                for name, value in fields.items():
                    setattr(subscription, name, value)
                subscription.save()
            subscription.items.all().delete()
            SubscriptionItem.objects.bulk_create(
                SubscriptionItem(
                    subscription=subscription, external_id=item.external_id, plan=item.plan, quantity=item.quantity,
                    unit_amount=money.round_minor(item.unit_amount), metered=item.metered,
                )
                for item in state.items
            )  # fmt: skip
        # A source already applied (a duplicate delivery, a re-imported row) is left as it was: one statement.
        SubscriptionRevision.objects.bulk_create(
            [SubscriptionRevision(
                subscription=subscription, source_ref=source_ref, effective_at=effective_at, status=state.status,
                currency=state.currency, mrr=state.mrr, seats=state.seats, plan=state.main_plan,
            )],
            ignore_conflicts=True,
        )  # fmt: skip
    return Applied(subscription, created, current)
