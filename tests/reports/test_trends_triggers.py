"""Trend and anomaly flags on series with known answers; threshold triggers with duration, cooldown, hysteresis."""

from datetime import UTC, datetime, timedelta

import pytest

from reports import trends, triggers
from reports.models import Delivery, Trigger
from tests.factories import MessageFactory


def test_change_slope_and_direction():
    assert trends.change_pct(112, 100) == pytest.approx(12.0)
    assert trends.change_pct(5, 0) is None
    assert trends.slope([1, 2, 3, 4]) == pytest.approx(1.0)
    assert trends.slope([10, 8, 6, 4]) == pytest.approx(-2.0)
    assert trends.direction([100, 101, 99, 100]) == "flat"
    assert trends.direction([10, 20, 30, 40]) == "rising"


def test_band_is_median_plus_minus_three_mads():
    band = trends.usual_band([10, 12, 11, 13, 9, 10, 12, 11])
    # median 11, absolute deviations 1,1,0,2,2,1,1,0 -> MAD 1 -> 8..14
    assert (band.median, band.mad, band.low, band.high) == (11, 1, 8, 14)
    assert trends.outside(15, band) == "high" and trends.outside(7, band) == "low" and trends.outside(14, band) == ""


def test_analysis_sentences_and_flag_on_a_known_series():
    analysis = trends.analyse("Active users", [10, 12, 11, 13, 9, 10, 12, 100, 112], period="week")
    assert analysis.flag == "high"
    assert analysis.findings[0] == "Active users rose 12 % week over week."
    assert "Active users was unusually high at 112" in analysis.findings[1]
    quiet = trends.analyse("Messages", [50, 52, 49, 51, 50, 48, 52, 50, 51], period="month")
    assert quiet.flag == "" and quiet.direction == "flat"
    assert quiet.findings == ["Messages rose 2 % month over month."]


def test_unusual_day_named_in_a_sentence():
    found = trends.unusual_buckets([40, 3, 41], ["Monday", "Tuesday", "Wednesday"], title="Messages posted",
                                   history=[40, 42, 39, 41, 40, 38, 42, 40])  # fmt: skip
    assert found == ["Messages posted on Tuesday were unusually low (3)."]


@pytest.fixture
def trigger(acme):
    return triggers.trigger_create(
        actor=acme.owner, org=acme.org, name="Chatty", metric="messages_posted", window_minutes=60,
        direction="above", threshold=5, clear_threshold=2, duration_minutes=15, cooldown_minutes=120,
        recipients=[acme.owner.email],
    )  # fmt: skip


def _post(acme, at: datetime, count: int):
    for _ in range(count):
        MessageFactory(organization=acme.org, channel=acme.public, author=acme.member, created=at)


def test_trigger_waits_for_the_duration_then_fires_once(acme, trigger):
    t0 = datetime(2026, 11, 25, 10, tzinfo=UTC)
    _post(acme, t0 - timedelta(minutes=1), 10)
    assert triggers.trigger_evaluate(trigger=trigger, now=t0) is None  # breaching, pending
    assert Trigger.objects.get(pk=trigger.pk).state == "pending"
    assert triggers.trigger_evaluate(trigger=trigger, now=t0 + timedelta(minutes=10)) is None
    fired = triggers.trigger_evaluate(trigger=trigger, now=t0 + timedelta(minutes=15))
    assert fired is not None and "Messages posted was 10" in fired.summary
    assert triggers.trigger_evaluate(trigger=trigger, now=t0 + timedelta(minutes=16)) is None  # still firing
    assert Delivery.objects.filter(trigger=trigger).count() == 1


def test_hysteresis_and_cooldown(acme, trigger):
    t0 = datetime(2026, 11, 25, 10, tzinfo=UTC)
    trigger.duration_minutes, trigger.cooldown_minutes = 0, 180
    trigger.save()
    _post(acme, t0 - timedelta(minutes=1), 6)
    assert triggers.trigger_evaluate(trigger=trigger, now=t0) is not None
    _post(acme, t0 + timedelta(minutes=59), 4)  # at t0+61: the first 6 left the window, 4 remain (3 < 4 < 5)
    triggers.trigger_evaluate(trigger=trigger, now=t0 + timedelta(minutes=61))
    assert Trigger.objects.get(pk=trigger.pk).state == "firing"  # below the threshold but not past 2: no flapping
    assert triggers.trigger_evaluate(trigger=trigger, now=t0 + timedelta(minutes=125)) is None  # 0 now: cleared
    assert Trigger.objects.get(pk=trigger.pk).state == "ok"
    _post(acme, t0 + timedelta(minutes=125), 9)
    # Breaching again within the 180-minute cooldown of the first firing: no second alert yet.
    assert triggers.trigger_evaluate(trigger=trigger, now=t0 + timedelta(minutes=126)) is None
    assert Trigger.objects.get(pk=trigger.pk).state == "pending"
    _post(acme, t0 + timedelta(minutes=170), 9)
    assert triggers.trigger_evaluate(trigger=trigger, now=t0 + timedelta(minutes=181)) is not None  # cooled down
    assert Delivery.objects.filter(trigger=trigger).count() == 2


def test_clear_threshold_on_the_wrong_side_is_refused(acme):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="hysteresis"):
        triggers.trigger_create(actor=acme.owner, org=acme.org, name="x", metric="failed_logins", threshold=50,
                                clear_threshold=60, recipients=[acme.owner.email])  # fmt: skip
