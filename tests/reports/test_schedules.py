"""Schedule slots (DST, ordinal rules, next five), exactly once per slot, only the last missed slot."""

import threading
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from reports import schedules, services
from reports.models import Delivery, Schedule

BERLIN = ZoneInfo("Europe/Berlin")


def _schedule(**values) -> Schedule:
    return Schedule(time_of_day=values.pop("time_of_day", time(9)), timezone=values.pop("timezone", "Europe/Berlin"),
                    **values)  # fmt: skip


def test_daily_slot_stays_at_nine_local_across_the_dst_change():
    schedule = _schedule(frequency="daily")
    # Berlin leaves summer time on Sunday 25 October 2026 (UTC+2 -> UTC+1).
    slots = list(schedules.slots_after(schedule, datetime(2026, 10, 23, 12, tzinfo=UTC), limit=4))
    assert [s.astimezone(BERLIN).hour for s in slots] == [9, 9, 9, 9]
    assert [s.hour for s in slots] == [7, 8, 8, 8]  # in UTC the hour moves on the 25th
    assert slots[1].date().day == 25


def test_a_time_skipped_by_spring_forward_runs_after_the_jump():
    schedule = _schedule(frequency="daily", time_of_day=time(2, 30))
    slot = next(schedules.slots_after(schedule, datetime(2026, 3, 28, 12, tzinfo=UTC), limit=1))
    assert slot == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST; 02:30 did not exist that night


def test_ordinal_rules_first_monday_and_last_weekday():
    first_monday = _schedule(frequency="monthly", ordinal=1, ordinal_day=0)
    slots = list(schedules.slots_after(first_monday, datetime(2026, 11, 25, tzinfo=UTC), limit=3))
    assert [s.astimezone(BERLIN).date().isoformat() for s in slots] == ["2026-12-07", "2027-01-04", "2027-02-01"]
    last_weekday = _schedule(frequency="monthly", ordinal=-1, ordinal_day=7)
    slots = list(schedules.slots_after(last_weekday, datetime(2026, 11, 25, tzinfo=UTC), limit=3))
    # 30 Nov 2026 is a Monday; 31 Dec a Thursday; 31 Jan 2027 a Sunday, so Friday 29 Jan.
    assert [s.astimezone(BERLIN).date().isoformat() for s in slots] == ["2026-11-30", "2026-12-31", "2027-01-29"]


def test_last_day_of_month_and_weekly_weekdays():
    last_day = _schedule(frequency="monthly", day_of_month=-1, timezone="UTC")
    slots = list(schedules.slots_after(last_day, datetime(2027, 1, 31, 10, tzinfo=UTC), limit=2))
    assert [s.date().isoformat() for s in slots] == ["2027-02-28", "2027-03-31"]
    weekly = _schedule(frequency="weekly", weekdays=[0, 3], timezone="UTC")
    slots = list(schedules.slots_after(weekly, datetime(2026, 11, 25, tzinfo=UTC), limit=3))
    assert [s.strftime("%a %d") for s in slots] == ["Thu 26", "Mon 30", "Thu 03"]


@pytest.fixture
def report(acme):
    return services.report_create(actor=acme.owner, org=acme.org, title="Usage", period="week",
                                  sections=[{"type": "metric", "params": {"metric": "messages_posted"}}])  # fmt: skip


def _daily(acme, report, **values):
    return schedules.schedule_create(actor=acme.owner, org=acme.org, report=report, frequency="daily",
                                     time_of_day=time(9), timezone="Europe/Berlin",
                                     recipients=[acme.member.email], **values)  # fmt: skip


def test_two_ticks_and_a_repeated_tick_claim_a_slot_once(acme, report):
    schedule = _daily(acme, report)
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=datetime(2026, 11, 25, 8, tzinfo=UTC))
    now = datetime(2026, 11, 25, 8, 0, 30, tzinfo=UTC)
    first = schedules.schedules_dispatch(now=now, enqueue=False)
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=datetime(2026, 11, 25, 8, tzinfo=UTC))  # a stale beat
    second = schedules.schedules_dispatch(now=now, enqueue=False)
    assert len(first) == 1 and second == []
    assert Delivery.objects.filter(schedule=schedule).count() == 1


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite's in-memory test database has one writer")
@pytest.mark.django_db(transaction=True)
def test_two_beat_processes_at_once_send_each_slot_once(allow_audit_flush):
    from tests.conftest import _org

    acme = _org("acme")
    report = services.report_create(actor=acme.owner, org=acme.org, title="Usage", period="week",
                                    sections=[{"type": "metric", "params": {"metric": "messages_posted"}}])  # fmt: skip
    due = datetime(2026, 11, 25, 8, tzinfo=UTC)
    for _ in range(20):
        schedule = _daily(acme, report)
        Schedule.objects.filter(pk=schedule.pk).update(next_run_at=due)
    barrier, claimed = threading.Barrier(2), []

    def beat():
        barrier.wait()
        try:
            claimed.append(schedules.schedules_dispatch(now=datetime(2026, 11, 25, 8, 0, 5, tzinfo=UTC),
                                                        enqueue=False))  # fmt: skip
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Delivery.objects.count() == 20
    assert sorted(claimed[0] + claimed[1]) == sorted(Delivery.objects.values_list("pk", flat=True))


def test_after_downtime_only_the_last_missed_slot_is_sent(acme, report):
    schedule = _daily(acme, report)
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=datetime(2026, 11, 20, 8, tzinfo=UTC))
    claimed = schedules.schedules_dispatch(now=datetime(2026, 11, 25, 12, tzinfo=UTC), enqueue=False)
    assert len(claimed) == 1
    delivery = Delivery.objects.get(pk=claimed[0])
    assert delivery.slot == datetime(2026, 11, 25, 8, tzinfo=UTC)  # today 09:00 Berlin, not the five before
    schedule.refresh_from_db()
    assert schedule.next_run_at == datetime(2026, 11, 26, 8, tzinfo=UTC)


def test_paused_schedules_are_not_dispatched(acme, report):
    schedule = _daily(acme, report)
    schedules.schedule_update(actor=acme.owner, org=acme.org, schedule=schedule, is_paused=True)
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=datetime(2026, 11, 20, 8, tzinfo=UTC))
    assert schedules.schedules_dispatch(now=datetime(2026, 11, 25, 12, tzinfo=UTC), enqueue=False) == []


def test_recipient_who_may_not_see_a_section_is_refused_when_saving(acme):
    report = services.report_create(actor=acme.owner, org=acme.org, template="security_compliance")
    with pytest.raises(ValidationError) as refused:
        schedules.schedule_create(
            actor=acme.owner, org=acme.org, report=report, frequency="daily", time_of_day=time(9),
            recipients=[acme.member.email, "boss@elsewhere.test"],
        )  # fmt: skip
    errors = refused.value.message_dict["recipients"]
    assert any("member@acme.test: may not see" in e and "audit.read" in e for e in errors)
    assert any("boss@elsewhere.test: not a member" in e for e in errors)
    assert not Schedule.objects.exists()
