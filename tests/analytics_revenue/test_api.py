"""The operator's revenue API: who may read it, its shapes and errors, filters, and bounded query counts."""

from datetime import date

import pytest

from analytics.revenue.models import ExchangeRate, Subscription
from audit.models import AuditEvent
from tests.analytics_revenue.conftest import event, price, subscription, ts

BASE = "/api/v1/instance/analytics/revenue/"
READS = ["mrr", "movements", "summary", "subscriptions/"]
BASIC = price("price_basic", 10000)


@pytest.fixture
def some_subscriptions(deliver, acme, globex):
    for n, (customer, org, seats, month) in enumerate(
        [("cus_a", "acme", 1, 1), ("cus_g", "globex", 2, 2), ("cus_x", None, 3, 3)]
    ):
        obj = subscription(f"sub_{n}", customer, [(BASIC, seats)], start=ts(2026, month, 5),
                           metadata={"org": org} if org else {})  # fmt: skip
        assert deliver(event(f"evt_{n}", "customer.subscription.created", ts(2026, month, 5), obj)).status_code == 200


@pytest.mark.parametrize("path", READS)
def test_anonymous_is_401(anon, db, path):
    assert anon.get(BASE + path).status_code == 401


@pytest.mark.parametrize("path", READS)
def test_organization_owners_and_staff_without_the_permission_get_403(client_for, acme, path):
    from tests.factories import UserFactory

    for user in (acme.owner, acme.admin, acme.billing, UserFactory(is_staff=True)):
        response = client_for(user).get(BASE + path)
        assert response.status_code == 403, (user, response.content)
        assert "revenue.read" in response.json()["detail"]


@pytest.mark.parametrize("path", READS)
def test_holders_of_revenue_read_and_superusers_read(client_for, reader, manager, superuser, path):
    for user in (reader, manager, superuser):
        assert client_for(user).get(BASE + path).status_code == 200


def test_another_organizations_subscription_is_filtered_out_and_a_missing_one_is_404(
    client_for, reader, some_subscriptions
):
    response = client_for(reader).get(BASE + "subscriptions/", {"organization": "acme"})
    assert [row["external_id"] for row in response.json()["results"]] == ["sub_0"]
    assert response.json()["results"][0]["organization"] == "acme"
    missing = Subscription.objects.order_by("-pk").first().pk + 100
    assert client_for(reader).get(f"{BASE}subscriptions/{missing}/").status_code == 404


def test_subscription_filters_and_detail(client_for, reader, some_subscriptions):
    client = client_for(reader)
    listed = client.get(BASE + "subscriptions/", {"active_at": "2026-02-10"}).json()["results"]
    assert sorted(row["external_id"] for row in listed) == ["sub_0", "sub_1"]
    assert [r["seats"] for r in client.get(BASE + "subscriptions/", {"customer": "cus_x"}).json()["results"]] == [3]
    assert client.get(BASE + "subscriptions/", {"status": "canceled"}).json()["results"] == []
    assert client.get(BASE + "subscriptions/", {"status": "nope"}).status_code == 400
    assert client.get(BASE + "subscriptions/", {"bogus": "1"}).status_code == 400
    pk = Subscription.objects.get(external_id="sub_1").pk
    detail = client.get(f"{BASE}subscriptions/{pk}/").json()
    assert (detail["mrr"], detail["plan"], detail["organization"]) == (20000, "price_basic", "globex")
    assert [(r["mrr"], r["source_ref"]) for r in detail["revisions"]] == [(20000, "evt_1")]


def test_subscription_list_query_count_does_not_grow(client_for, reader, some_subscriptions, deliver,
                                                     django_assert_max_num_queries):  # fmt: skip
    client = client_for(reader)
    with django_assert_max_num_queries(6):
        assert len(client.get(BASE + "subscriptions/").json()["results"]) == 3
    for n in range(3, 13):
        obj = subscription(f"sub_{n}", f"cus_{n}", [(BASIC, 1)], start=ts(2026, 4, 1))
        deliver(event(f"evt_{n}", "customer.subscription.created", ts(2026, 4, 1), obj))
    with django_assert_max_num_queries(6):
        assert len(client.get(BASE + "subscriptions/").json()["results"]) == 13


def test_movements_and_mrr_have_a_fixed_query_count(client_for, reader, some_subscriptions,
                                                    django_assert_max_num_queries):  # fmt: skip
    client = client_for(reader)
    params = {"start": "2026-01-01", "end": "2026-04-30"}
    with django_assert_max_num_queries(5):
        rows = client.get(BASE + "movements", params).json()["rows"]
    assert [(r["new"], r["ending_mrr"]) for r in rows] == [(10000, 10000), (20000, 30000), (30000, 60000), (0, 60000)]
    with django_assert_max_num_queries(5):
        points = client.get(BASE + "mrr", params).json()
    assert points["currency"] == "USD"
    assert [(p["mrr"], p["arr"]) for p in points["points"]][-1] == (60000, 720000)


def test_summary(client_for, reader, some_subscriptions):
    summary = client_for(reader).get(BASE + "summary", {"at": "2026-04-01T00:00:00Z"}).json()
    assert (summary["mrr"], summary["customers"], summary["arpa"], summary["currency"]) == (60000, 3, 20000, "USD")
    assert summary["month"]["new"] == 30000 and summary["ltv"] is None  # no churn yet: no LTV
    assert summary["nrr_12m"] is None  # nobody paid a year before


def test_movements_csv_download_is_audited(client_for, reader, some_subscriptions):
    response = client_for(reader).get(BASE + "movements", {"start": "2026-01-01", "end": "2026-03-31", "type": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("bucket_start,starting_mrr,new,") and len(lines) == 4
    assert AuditEvent.objects.filter(event_name="revenue.exported", actor_id=str(reader.pk)).count() == 1


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-05-01", "end": "2026-01-01"},
        {"interval": "hour"},
        {"start": "2020-01-01", "end": "2026-01-01", "interval": "day"},
        {"start": "yesterday"},
        {"unknown": "1"},
    ],
)
def test_bad_ranges_are_400(client_for, reader, params):
    response = client_for(reader).get(BASE + "movements", params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_a_missing_exchange_rate_is_a_409_that_names_it(client_for, reader, deliver):
    obj = subscription("sub_e", "cus_e", [(price("price_e", 9000, currency="eur"), 1)], start=ts(2026, 2, 1),
                       currency="eur")  # fmt: skip
    deliver(event("evt_e", "customer.subscription.created", ts(2026, 2, 1), obj))
    response = client_for(reader).get(BASE + "mrr", {"start": "2026-02-01", "end": "2026-02-28"})
    assert response.status_code == 409
    assert "EUR to USD" in response.json()["detail"]
    ExchangeRate.objects.create(currency="EUR", reporting_currency="USD", valid_from=date(2026, 1, 1), rate="1.5")
    response = client_for(reader).get(BASE + "mrr", {"start": "2026-02-01", "end": "2026-02-28"})
    assert response.json()["points"][0]["mrr"] == 13500
