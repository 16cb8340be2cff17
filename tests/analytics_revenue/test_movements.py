"""MRR movements on a scripted sequence of Stripe events, with the answers worked out by hand below.

Customers and prices (USD unless said; amounts in cents):

    A  basic $100/month              Jan 10 new x1 -> Feb 5 upgrade to x3 -> Mar 3 cancelled -> Apr 8 new sub x1
    B  pro $50/month                 Jan 15 new x2 -> Feb 20 downgrade to x1; a charge of $50 on Mar 1 refunded Mar 10
    C  €1,200/year (€100/month)      Feb 1 new; EUR->USD 1.10 from Jan 1, 1.20 from Mar 1
    D  pro $50/month with a trial    Apr 2 trial starts -> Apr 16 trial converts (only then revenue)

Deliveries are out of order (B's downgrade before its creation, A's cancellation before its upgrade), one event
twice, and each month is computed by hand:

    Jan  start 0      new 10000 (A) + 10000 (B)                                      end 20000
    Feb  start 20000  new 11000 (C: €100 x 1.10), expansion 20000 (A), contraction 5000 (B)   end 46000
    Mar  start 46000  churned 30000 (A), fx +1000 (C at 1.20: 12000 instead of 11000)          end 17000
    Apr  start 17000  reactivation 10000 (A again), new 5000 (D after its trial)                end 32000
"""

from datetime import date

import pytest

from analytics.revenue import selectors
from analytics.revenue.models import ExchangeRate, Payment, Subscription, SubscriptionRevision, WebhookEvent
from tests.analytics_revenue.conftest import event, price, subscription, ts

BASIC = price("price_basic", 10000)
PRO = price("price_pro", 5000)
EUR_YEAR = price("price_eur_year", 120000, currency="eur", interval="year")


def _events():
    sub_a = subscription("sub_A", "cus_A", [(BASIC, 1)], start=ts(2026, 1, 10))
    sub_b = subscription("sub_B", "cus_B", [(PRO, 2)], start=ts(2026, 1, 15))
    sub_c = subscription("sub_C", "cus_C", [(EUR_YEAR, 1)], start=ts(2026, 2, 1), currency="eur")
    sub_a2 = subscription("sub_A2", "cus_A", [(BASIC, 1)], start=ts(2026, 4, 8))
    sub_d = subscription("sub_D", "cus_D", [(PRO, 1)], start=ts(2026, 4, 2), status="trialing",
                         trial_end=ts(2026, 4, 16))  # fmt: skip
    charge = {
        "id": "ch_B1", "object": "charge", "customer": "cus_B", "status": "succeeded", "currency": "usd",
        "amount": 5000, "amount_refunded": 0, "created": ts(2026, 3, 1), "invoice": None,
    }  # fmt: skip
    return {
        "a_created": event("evt_a1", "customer.subscription.created", ts(2026, 1, 10), sub_a),
        "b_created": event("evt_b1", "customer.subscription.created", ts(2026, 1, 15), sub_b),
        "a_upgrade": event("evt_a2", "customer.subscription.updated", ts(2026, 2, 5),
                           {**sub_a, "items": subscription("sub_A", "cus_A", [(BASIC, 3)], start=0)["items"]}),
        "c_created": event("evt_c1", "customer.subscription.created", ts(2026, 2, 1), sub_c),
        "b_downgrade": event("evt_b2", "customer.subscription.updated", ts(2026, 2, 20),
                             {**sub_b, "items": subscription("sub_B", "cus_B", [(PRO, 1)], start=0)["items"]}),
        "a_cancel": event("evt_a3", "customer.subscription.deleted", ts(2026, 3, 3),
                          {**sub_a, "status": "canceled", "canceled_at": ts(2026, 3, 3), "ended_at": ts(2026, 3, 3),
                           "items": subscription("sub_A", "cus_A", [(BASIC, 3)], start=0)["items"]}),
        "b_charge": event("evt_b3", "charge.succeeded", ts(2026, 3, 1), charge),
        "b_refund": event("evt_b4", "charge.refunded", ts(2026, 3, 10), {**charge, "amount_refunded": 5000,
                                                                          "refunded": True}),
        "d_trial": event("evt_d1", "customer.subscription.created", ts(2026, 4, 2), sub_d),
        "d_active": event("evt_d2", "customer.subscription.updated", ts(2026, 4, 16), {**sub_d, "status": "active"}),
        "a_again": event("evt_a4", "customer.subscription.created", ts(2026, 4, 8), sub_a2),
    }  # fmt: skip


@pytest.fixture
def rates(db):
    ExchangeRate.objects.create(currency="EUR", reporting_currency="USD", valid_from=date(2026, 1, 1), rate="1.10")
    ExchangeRate.objects.create(currency="EUR", reporting_currency="USD", valid_from=date(2026, 3, 1), rate="1.20")


@pytest.fixture
def scripted(deliver, rates):
    events = _events()
    order = [
        "a_created", "b_downgrade", "b_created",  # B's downgrade arrives before its creation
        "a_cancel", "a_upgrade", "a_upgrade",  # A's cancellation before its upgrade, and the upgrade twice
        "c_created", "b_refund", "b_charge",  # the refund before the charge it refunds
        "d_trial", "d_active", "a_again", "d_active",
    ]  # fmt: skip
    answers = [deliver(events[name]) for name in order]
    assert [r.status_code for r in answers] == [200] * len(order), [r.content for r in answers]
    return answers


def _table():
    rows = selectors.mrr_movements(start=date(2026, 1, 1), end=date(2026, 4, 30))
    return {row.bucket_start.month: row for row in rows}


def test_movements_match_the_hand_computed_table(scripted):
    rows = _table()
    got = {
        month: (row.starting_mrr, row.new, row.expansion, row.contraction, row.churned, row.reactivation, row.fx,
                row.ending_mrr)
        for month, row in rows.items()
    }  # fmt: skip
    assert got == {
        1: (0, 20000, 0, 0, 0, 0, 0, 20000),
        2: (20000, 11000, 20000, 5000, 0, 0, 0, 46000),
        3: (46000, 0, 0, 0, 30000, 0, 1000, 17000),
        4: (17000, 5000, 0, 0, 0, 10000, 0, 32000),
    }
    assert (rows[1].new_customers, rows[2].new_customers, rows[3].churned_customers) == (2, 1, 1)
    assert (rows[4].new_customers, rows[4].reactivated_customers, rows[4].customers_end) == (1, 1, 4)
    # March: 1 of 3 customers left; 30000 of 47000 (start at March's rates) lost.
    assert float(rows[3].logo_churn) == pytest.approx(1 / 3, abs=1e-4)
    assert float(rows[3].net_revenue_churn) == pytest.approx(30000 / 47000, abs=1e-4)
    assert float(rows[3].net_revenue_retention) == pytest.approx(17000 / 47000, abs=1e-4)
    # February: expansion 20000 beats contraction 5000 on a base of 20000: negative churn, NRR 175 %.
    assert float(rows[2].net_revenue_churn) == pytest.approx(-0.75)
    assert float(rows[2].net_revenue_retention) == pytest.approx(1.75)
    for row in rows.values():  # every row reconciles
        assert row.ending_mrr == row.starting_mrr + row.net_new + row.fx


def test_duplicates_and_late_events_leave_the_newest_state(scripted):
    assert WebhookEvent.objects.count() == 11
    assert WebhookEvent.objects.get(event_id="evt_a2").deliveries == 2
    assert WebhookEvent.objects.get(event_id="evt_d2").deliveries == 2
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    # The duplicate added no revision; A's late upgrade is history, not its current state.
    assert SubscriptionRevision.objects.filter(subscription__external_id="sub_A").count() == 3
    sub_a = Subscription.objects.get(external_id="sub_A")
    assert (sub_a.status, sub_a.mrr, sub_a.seats, sub_a.ended_at is not None) == ("canceled", 0, 3, True)
    sub_b = Subscription.objects.get(external_id="sub_B")
    assert (sub_b.status, sub_b.seats, sub_b.mrr) == ("active", 1, 5000)
    # The refund arrived before the charge it refunds: the charge's older state did not overwrite it.
    payment = Payment.objects.get(external_id="ch_B1")
    assert (payment.amount, payment.amount_refunded) == (5000, 5000)
    assert scripted[5].json() == {"received": True, "status": "processed", "duplicate": True}


def test_refund_is_cash_not_mrr_and_the_summary_adds_up(scripted):
    summary = selectors.revenue_summary(at=selectors._as_datetime(date(2026, 4, 1)))
    assert (summary.mrr, summary.arr, summary.customers, summary.arpa) == (17000, 204000, 2, 8500)
    assert summary.month.bucket_start.month == 3
    assert (summary.collected, summary.refunded) == (5000, 5000)
    # LTV: ARPA / average monthly logo churn over the LTV window (Jan..Mar here: 1 churned of 0 + 2 + 3 exposed).
    assert float(summary.average_logo_churn) == pytest.approx(1 / 5, abs=1e-4)
    assert summary.ltv == 8500 * 5


def test_series_selectors_for_the_metric_catalogue(scripted):
    start, end = date(2026, 1, 1), date(2026, 4, 30)
    assert [v for _, v in selectors.mrr_series(start=start, end=end)] == [20000, 46000, 17000, 32000]
    assert [v for _, v in selectors.arr_series(start=start, end=end)] == [240000, 552000, 204000, 384000]
    assert [v for _, v in selectors.churned_mrr_series(start=start, end=end)] == [0, 0, 30000, 0]
    assert [v for _, v in selectors.reactivation_mrr_series(start=start, end=end)] == [0, 0, 0, 10000]
    assert selectors.logo_churn_series(start=start, end=end)[0][1] is None  # no customers at the start of January
    for key, (function, unit) in selectors.SERIES.items():
        points = function(start=start, end=end, interval="month")
        assert len(points) == 4 and unit in {"money", "ratio"}, key


def test_weekly_and_daily_buckets(scripted):
    days = selectors.mrr_series(start=date(2026, 2, 4), end=date(2026, 2, 6), interval="day")
    assert [v for _, v in days] == [20000 + 11000, 40000 + 11000, 40000 + 11000]  # A upgraded on Feb 5
    weeks = selectors.new_mrr_series(start=date(2026, 4, 13), end=date(2026, 4, 19), interval="week")
    assert weeks == [(selectors.bucket_floor(date(2026, 4, 13), "week"), 5000)]  # D's trial converted that week


def test_missing_exchange_rate_is_named(deliver):
    deliver(_events()["c_created"])
    with pytest.raises(selectors.MissingExchangeRate, match="EUR to USD"):
        selectors.mrr_movements(start=date(2026, 2, 1), end=date(2026, 2, 28))


def test_discounts_quantities_multi_item_and_yearly_plans(deliver):
    addon = price("price_addon", 2000)
    sub = subscription(
        "sub_M", "cus_M", [(BASIC, 2), (addon, 3), (price("price_usage", 7, usage_type="metered"), None)],
        start=ts(2026, 5, 1), discount={"coupon": {"percent_off": 25, "duration": "forever"}},
    )  # fmt: skip
    sub["items"]["data"][2]["price"]["recurring"]["usage_type"] = "metered"
    yearly = subscription("sub_Y", "cus_Y", [(price("price_year", 100000, interval="year"), 1)], start=ts(2026, 5, 2))
    once = subscription("sub_O", "cus_O", [(BASIC, 1)], start=ts(2026, 5, 3),
                        discount={"coupon": {"percent_off": 50, "duration": "once"}})  # fmt: skip
    for n, obj in enumerate([sub, yearly, once]):
        assert deliver(event(f"evt_m{n}", "customer.subscription.created", obj["start_date"], obj)).status_code == 200
    # (2 x 100 + 3 x 20) x 75 % = 195.00; the metered item is not recurring revenue. 1000/12 = 83.33. Once: none.
    assert Subscription.objects.get(external_id="sub_M").mrr == 19500
    assert Subscription.objects.get(external_id="sub_M").seats == 5
    assert Subscription.objects.get(external_id="sub_Y").mrr == 8333
    assert Subscription.objects.get(external_id="sub_O").mrr == 10000
