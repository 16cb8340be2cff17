"""Audit events of revenue analytics (ids 750-769). They go to the platform chain: this is the operator's data."""

from audit.registry import Category, declare

PLAN_SAVED = declare(750, "revenue.plan_saved", Category.DATA_CHANGE, "{actor} saved revenue plan {target}")
CUSTOMER_LINKED = declare(
    751, "revenue.customer_linked", Category.DATA_CHANGE, "{actor} linked billing customer {target} to an organization"
)
RATE_SAVED = declare(752, "revenue.rate_saved", Category.DATA_CHANGE, "{actor} saved exchange rate {target}")
RATE_DELETED = declare(753, "revenue.rate_deleted", Category.DATA_CHANGE, "{actor} deleted exchange rate {target}")
CSV_IMPORTED = declare(
    754, "revenue.csv_imported", Category.DATA_CHANGE, "{actor} imported subscriptions from {target}"
)
WEBHOOK_REPROCESSED = declare(
    755, "revenue.webhook_reprocessed", Category.USER_ACTION, "{actor} reprocessed Stripe event {target}"
)
REPORT_EXPORTED = declare(756, "revenue.exported", Category.USER_ACTION, "{actor} exported revenue figures ({target})")
