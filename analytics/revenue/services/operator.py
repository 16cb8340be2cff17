"""The operator's edits (from the admin): plan labels, exchange rates, linking customers to organizations.

Each checks `revenue.manage`, writes, and records the audit event (platform chain) in one transaction.
"""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from analytics.revenue import money
from analytics.revenue.access import require_manage
from analytics.revenue.audit_events import CUSTOMER_LINKED, PLAN_SAVED, RATE_DELETED, RATE_SAVED
from analytics.revenue.models import Customer, ExchangeRate, Plan
from audit.services import audit_record, diff, snapshot

PLAN_FIELDS = ["name", "is_active"]
RATE_FIELDS = ["currency", "reporting_currency", "valid_from", "rate", "note"]


def plan_update(*, actor, plan: Plan, **changes) -> Plan:
    """Change a plan's label or whether it is offered; prices come from Stripe or imports, never typed here."""
    require_manage(actor)
    unknown = set(changes) - set(PLAN_FIELDS)
    if unknown:
        raise ValidationError(f"Only {', '.join(PLAN_FIELDS)} can be changed here (not {', '.join(sorted(unknown))}).")
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        before = snapshot(plan, PLAN_FIELDS)
        for name, value in changes.items():
            setattr(plan, name, value)
        plan.full_clean()
        plan.save()
        changes = diff(before, snapshot(plan, PLAN_FIELDS))
        audit_record(org=None, event=PLAN_SAVED, actor=actor, target=plan, changes=changes)
    return plan


def rate_save(
    *, actor, currency: str, valid_from: date, rate: Decimal, reporting_currency: str, note: str = "",
    rate_obj: ExchangeRate | None = None,
) -> ExchangeRate:  # fmt: skip
    """Create or change a dated exchange rate (units of the reporting currency per unit of `currency`)."""
    require_manage(actor)
    try:
        currency, reporting_currency = money.normalize_currency(currency), money.normalize_currency(reporting_currency)
    except money.MoneyError as exc:
        raise ValidationError(str(exc)) from None
    if currency == reporting_currency:
        raise ValidationError("A rate converts between two different currencies.")
    if rate is None or rate <= 0:
        raise ValidationError({"rate": "The rate must be greater than zero."})
    with transaction.atomic():
        obj = ExchangeRate()
        if rate_obj is not None and rate_obj.pk:
            obj = ExchangeRate.objects.select_for_update().get(pk=rate_obj.pk)
        before = snapshot(obj, RATE_FIELDS) if obj.pk else {}
        obj.currency, obj.reporting_currency, obj.valid_from, obj.rate, obj.note = (
            currency, reporting_currency, valid_from, rate, note,
        )  # fmt: skip
        obj.full_clean()
        obj.save()
        after = {**snapshot(obj, RATE_FIELDS), "rate": str(obj.rate)}
        if before:
            before["rate"] = str(before["rate"])
        audit_record(org=None, event=RATE_SAVED, actor=actor, target=obj, changes=diff(before, after))
    return obj


def rate_delete(*, actor, rate_obj: ExchangeRate) -> None:
    require_manage(actor)
    with transaction.atomic():
        before = {**snapshot(rate_obj, RATE_FIELDS), "rate": str(rate_obj.rate)}
        audit_record(org=None, event=RATE_DELETED, actor=actor, target=rate_obj, changes=diff(before, {}))
        rate_obj.delete()


def customer_link(*, actor, customer: Customer, organization, name: str | None = None) -> Customer:
    """Say which organization a paying customer is (and label it); its subscriptions follow."""
    require_manage(actor)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        before = {"organization": customer.organization_id, "name": customer.name}
        customer.organization = organization
        if name is not None:
            customer.name = name
        customer.save(update_fields=["organization", "name"])
        customer.subscriptions.update(organization=organization)
        after = {"organization": customer.organization_id, "name": customer.name}
        audit_record(org=None, event=CUSTOMER_LINKED, actor=actor, target=customer, changes=diff(before, after))
    return customer
