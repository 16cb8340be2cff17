"""CSV import: a good file gives known MRR movements and imports idempotently; a bad file names every problem by
line and writes nothing. Through the management command and the admin upload page."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analytics.revenue import selectors
from analytics.revenue.models import CsvImport, Customer, Plan, Subscription, SubscriptionRevision
from audit.models import AuditEvent

GOOD = """subscription,customer,org,plan,seats,price,currency,interval,start,effective,cancel
s1,,acme,team,2,25.00,USD,month,2026-01-01,,
s1,,acme,team,4,25.00,USD,month,2026-01-01,2026-02-10,
s2,cus-globex,globex,yearly,1,1200,usd,year,2026-02-01,,2026-03-15
s3,cus-jp,,team-jp,10,1000,JPY,month,2026-03-01,,
"""


def _write(tmp_path, text, name="subs.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def jpy_rate(db):
    from analytics.revenue.models import ExchangeRate

    ExchangeRate.objects.create(currency="JPY", reporting_currency="USD", valid_from=date(2026, 1, 1), rate="0.0065")


def test_good_file_imports_and_gives_known_movements(tmp_path, acme, globex, jpy_rate):
    out = StringIO()
    call_command("revenue_import_csv", str(_write(tmp_path, GOOD)), stdout=out)
    assert "imported 4 row(s): 3 new subscription(s), 0 updated" in out.getvalue()
    s1 = Subscription.objects.get(external_id="s1")
    assert (s1.organization, s1.seats, s1.mrr, s1.customer.external_id) == (acme.org, 4, 10000, "acme")
    s2 = Subscription.objects.get(external_id="s2")
    assert (s2.status, s2.mrr, s2.ended_at.date()) == ("canceled", 0, date(2026, 3, 15))
    assert Subscription.objects.get(external_id="s3").mrr == 10000  # 10 x 1000 yen
    rows = {r.bucket_start.month: r for r in selectors.mrr_movements(start=date(2026, 1, 1), end=date(2026, 3, 31))}
    # Jan: s1 new 5000. Feb: s1 doubles (+5000), s2 new 10000 (1200/12). Mar: s2 churned, s3 new 65.00 USD.
    assert (rows[1].new, rows[1].ending_mrr) == (5000, 5000)
    assert (rows[2].new, rows[2].expansion, rows[2].ending_mrr) == (10000, 5000, 20000)
    assert (rows[3].churned, rows[3].new, rows[3].ending_mrr) == (10000, 6500, 16500)
    event = AuditEvent.objects.get(event_name="revenue.csv_imported")
    assert event.metadata["rows"] == 4 and event.actor_label == "revenue_import_csv"


def test_importing_the_same_file_again_changes_nothing(tmp_path, acme, globex):
    path = _write(tmp_path, GOOD)
    call_command("revenue_import_csv", str(path), stdout=StringIO())
    revisions = list(SubscriptionRevision.objects.values_list("subscription__external_id", "source_ref", "mrr"))
    out = StringIO()
    call_command("revenue_import_csv", str(path), stdout=out)
    assert "0 new subscription(s), 3 updated" in out.getvalue()
    again = list(SubscriptionRevision.objects.values_list("subscription__external_id", "source_ref", "mrr"))
    assert sorted(again) == sorted(revisions) and len(again) == 5
    assert CsvImport.objects.count() == 2


BAD = """subscription,customer,org,plan,seats,price,currency,interval,start,cancel
s1,,nope,team,2,25.00,USD,month,2026-01-01,
s2,c2,,team,-1,25.001,USD,fortnight,2026-13-01,
s3,c3,,team,1,10.5,JPY,month,2026-02-01,2026-01-01
,c4,,,1,1,EURO,month,,
"ok",c5,,team,1,"1,000",USD,month,2026-01-01,
"""


def test_bad_file_reports_every_problem_by_line_and_writes_nothing(tmp_path, acme):
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("revenue_import_csv", str(_write(tmp_path, BAD)), stdout=StringIO(), stderr=err)
    errors = err.getvalue().splitlines()
    expected = [
        "line 2: org: no organization with slug 'nope'",
        "line 3: price: 25.001 has more decimals than USD allows (2).",
        "line 3: seats: '-1' is not a whole number >= 0",
        "line 3: interval: 'fortnight' is not one of day, week, month, year",
        "line 3: start: '2026-13-01'",
        "line 4: price: 10.5 has more decimals than JPY allows (0).",
        "line 4: cancel: before start",
        "line 5: subscription: required",
        "line 5: plan: required",
        "line 5: currency: 'EURO' is not a three-letter ISO 4217 currency code.",
        "line 5: start: required",
        "line 6: price: '1,000' is not a number.",
    ]
    for text in expected:
        assert any(line.startswith(text) for line in errors), (text, errors)
    assert (Subscription.objects.count(), Customer.objects.count(), Plan.objects.count()) == (0, 0, 0)
    assert CsvImport.objects.count() == 0
    assert not AuditEvent.objects.filter(event_name="revenue.csv_imported").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("subscription,plan\n", "line 1: missing column 'seats'"),
        ("subscription,customer,plan,seats,price,currency,interval,start,colour\n", "line 1: unknown column 'colour'"),
        ("subscription,customer,plan,seats,price,currency,interval,start\n",
         "line 2: the file has a header but no rows"),
        ("subscription,customer,plan,seats,price,currency,interval,start\ns,c,p,1,1,USD,month,2026-01-01,extra\n",
         "line 2: more values than columns"),
        ("subscription,customer,plan,seats,price,currency,interval,start\n"
         "s,c,p,1,1,USD,month,2026-01-01\ns,other,p,1,1,USD,month,2026-01-01\n",
         "line 3: effective: a second row for s from the same date"),
    ],
)  # fmt: skip
def test_structural_problems(tmp_path, db, text, message):
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("revenue_import_csv", str(_write(tmp_path, text)), stdout=StringIO(), stderr=err)
    assert message in err.getvalue()
    assert Subscription.objects.count() == 0


def test_not_utf8_and_missing_file(tmp_path, db):
    path = tmp_path / "latin1.csv"
    path.write_bytes("subscription,customer\nsé,c\n".encode("latin-1"))
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("revenue_import_csv", str(path), stdout=StringIO(), stderr=err)
    assert "not UTF-8" in err.getvalue()
    with pytest.raises(CommandError, match="no such file"):
        call_command("revenue_import_csv", str(tmp_path / "nope.csv"))


def test_dry_run_writes_nothing(tmp_path, acme, globex):
    out = StringIO()
    call_command("revenue_import_csv", str(_write(tmp_path, GOOD)), "--dry-run", stdout=out)
    assert "would import 4 row(s): 3 new" in out.getvalue()
    assert Subscription.objects.count() == 0 and CsvImport.objects.count() == 0


def test_actor_without_revenue_manage_is_refused(tmp_path, acme, globex, reader):
    with pytest.raises(CommandError, match=r"revenue\.manage"):
        call_command("revenue_import_csv", str(_write(tmp_path, GOOD)), "--actor", reader.email, stdout=StringIO())
    assert Subscription.objects.count() == 0
