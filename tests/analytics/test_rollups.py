"""The rollup engine against a brute-force count over raw events, across hour and day boundaries; a fill killed
in the middle and run again; late events; re-runs that change nothing; backfill."""

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from analytics.models import Event, FillState, RollupCount
from analytics.services import events_store
from analytics.stats import fill_all, fill_stat, floor
from tests.analytics.conftest import at
from tests.factories import OrganizationFactory

START = at("2026-11-01T22:00:00")  # two hours before a day boundary
SPAN_MINUTES = 3 * 24 * 60
# Shrinking a database-backed example takes minutes; a failure prints the generated example as it is.
QUICK = (Phase.explicit, Phase.reuse, Phase.generate)
NAMES = ("message.posted", "channel.created", "user.logged_in", "$pageview")
CLIENTS = ("web", "mobile", "api")

event_strategy = st.tuples(
    st.integers(0, 1),  # organization
    st.sampled_from(NAMES),
    st.integers(0, SPAN_MINUTES - 1),  # minute offset: crosses hours and days
    st.integers(0, 5),  # person (0: the system)
    st.sampled_from(CLIENTS),
    st.sampled_from([None, 11, 12]),  # channel
)


def _stored(stat):
    return {
        (r.organization_id, r.object_id, r.subgroup, r.bucket): r.value for r in RollupCount.objects.filter(stat=stat)
    }


def _brute(raw, orgs):
    """Every stat computed directly from the raw events, the slow obvious way."""
    expected = defaultdict(Counter)
    people = defaultdict(set)
    for org_i, name, minute, person, client, channel in raw:
        org = orgs[org_i].pk
        when = START + timedelta(minutes=minute)
        hour, day = floor(when, "hour"), floor(when, "day")
        expected["events:hour"][(org, 0, name, hour)] += 1
        if name == "message.posted":
            expected["messages_sent:client:hour"][(org, 0, client, hour)] += 1
            if channel:
                expected["messages_in_channel:day"][(org, channel, "", day)] += 1
        if person:
            expected["person_events:day"][(org, person, name, day)] += 1
            expected["person_clients:day"][(org, person, client, day)] += 1
            people[(org, day)].add(person)
            people[(None, day)].add(person)
    for (org, day), persons in people.items():
        expected["active_users:day"][(org, 0, "", day)] = len(persons)
    for org in [o.pk for o in orgs] + [None]:
        for d in range(4):  # up to the day of the fill (Nov 4); later days are not computed yet
            day = floor(START, "day") + timedelta(days=d)
            week = set().union(*(people.get((org, day - timedelta(days=k)), set()) for k in range(7)))
            if week:
                expected["active_users_7d:day"][(org, 0, "", day)] = len(week)
    return expected


def _write(raw, orgs):
    rows = [
        (orgs[o].pk, name, START + timedelta(minutes=m), person, channel, client, None, {}, None)
        for o, name, m, person, client, channel in raw
    ]
    events_store(rows=rows, source="server")


def _reset():
    Event.objects.all().delete()
    RollupCount.objects.all().delete()
    FillState.objects.all().delete()


def _assert_matches(raw, orgs):
    expected = _brute(raw, orgs)
    for stat, counts in expected.items():
        assert _stored(stat) == dict(counts), stat
    for stat in ("events:hour", "person_events:day", "active_users:day"):
        if stat not in expected:
            assert _stored(stat) == {}


@pytest.fixture
def orgs(db):
    return [OrganizationFactory(), OrganizationFactory()]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], phases=QUICK)
@given(raw=st.lists(event_strategy, max_size=40))
def test_rollups_equal_brute_force(orgs, raw):
    _reset()
    _write(raw, orgs)
    with time_machine.travel(START + timedelta(minutes=SPAN_MINUTES + 90), tick=False):
        fill_all()
    _assert_matches(raw, orgs)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], phases=QUICK)
@given(raw=st.lists(event_strategy, min_size=1, max_size=30), stop_after=st.integers(1, 40))
def test_fill_killed_midway_then_rerun_counts_the_same(orgs, raw, stop_after):
    _reset()
    _write(raw, orgs)

    class Killed(BaseException):
        pass

    written = []

    def kill(stat, bucket):
        written.append(bucket)
        if len(written) == stop_after:
            raise Killed

    with time_machine.travel(START + timedelta(minutes=SPAN_MINUTES + 90), tick=False):
        with pytest.raises(Killed):
            fill_all(progress=kill)
        fill_all()
    _assert_matches(raw, orgs)


def test_rerun_with_nothing_new_changes_nothing_and_late_events_are_counted(orgs):
    raw = [(0, "message.posted", 30, 1, "web", 11), (1, "$pageview", 70, 2, "mobile", None)]
    now = START + timedelta(minutes=SPAN_MINUTES + 90)
    with time_machine.travel(now - timedelta(minutes=30), tick=False):
        _write(raw, orgs)  # received before the fill runs
    with time_machine.travel(now, tick=False):
        fill_all()
        first = {stat: _stored(stat) for stat in ("events:hour", "active_users:day", "person_events:day")}
        again = fill_all()
        # Only the open buckets (the current hour and day) are rewritten; nothing else is touched.
        assert max(again.values()) == 1
        assert {stat: _stored(stat) for stat in first} == first
    # An event arrives late, for an hour filled two days ago.
    late = (0, "message.posted", 40, 3, "api", 12)
    with time_machine.travel(now + timedelta(minutes=5), tick=False):
        _write([late], orgs)
        fill_all()
    _assert_matches([*raw, late], orgs)


def test_fill_state_advances_bucket_by_bucket(orgs):
    _write([(0, "$pageview", 0, 1, "web", None)], orgs)
    with time_machine.travel(START + timedelta(hours=5, minutes=10), tick=False):
        fill_stat("events:hour")
    state = FillState.objects.get(stat="events:hour")
    assert state.filled_until == START + timedelta(hours=5)
    assert state.state == FillState.State.DONE


def test_backfill_recomputes_a_range_and_refuses_to_erase_history(orgs, capsys):
    _write([(0, "$pageview", 10, 1, "web", None)], orgs)
    now = START + timedelta(days=3)
    with time_machine.travel(now, tick=False):
        fill_all()
        RollupCount.objects.filter(stat="events:hour").update(value=999)  # a stat computed wrongly
        call_command("backfill_stats", start="2026-11-01", stat=["events:hour"])
        assert set(RollupCount.objects.filter(stat="events:hour").values_list("value", flat=True)) == {1}
        assert "events:hour: " in capsys.readouterr().out
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="are gone"):
            call_command("backfill_stats", start="2026-01-01")
        with pytest.raises(CommandError, match="unknown stat"):
            call_command("backfill_stats", start="2026-11-01", stat=["nope"])
