"""DAU, WAU, MAU, stickiness, lifecycle, retention cohorts and feature adoption on a hand-built history with
known answers, through the API; per team, and instance-wide for the operator."""

from datetime import timedelta

import pytest
import time_machine

from analytics.stats import fill_all
from rbac.models import Team, TeamMember
from tests.analytics.conftest import at, store
from tests.factories import MembershipFactory

NOW = at("2026-11-24T12:00:00")  # a Tuesday, in the fourth week of the history
RANGE = "start=2026-11-02T00:00:00Z&end=2026-11-30T00:00:00Z"


@pytest.fixture
def history(acme):
    """Weeks from Monday 2 November: A, B, C active in week 1; A, B in week 2; A and the new D in week 3; only C
    (back after two weeks) in week 4. A posts, B creates a channel, C signs in with SSO, D posts."""
    people = {name: MembershipFactory(organization=acme.org, user__email=f"{name}@acme.test").user for name in "ABCD"}
    script = [
        ("A", "message.posted", "2026-11-02T09:00"), ("B", "channel.created", "2026-11-03T10:00"),
        ("C", "user.sso_logged_in", "2026-11-04T23:59"), ("A", "message.posted", "2026-11-09T08:00"),
        ("B", "channel.created", "2026-11-10T08:00"), ("A", "message.posted", "2026-11-16T00:00"),
        ("D", "message.posted", "2026-11-17T12:00"), ("C", "user.sso_logged_in", "2026-11-23T07:00"),
    ]  # fmt: skip
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        for who, name, when in script:
            store(acme.org, name, at(when), user=people[who])
    with time_machine.travel(NOW, tick=False):
        fill_all()
    team = Team.objects.create(organization=acme.org, name="Core")
    for who in "AB":
        TeamMember.objects.create(organization=acme.org, team=team, user=people[who])
    return people, team


def _series(client, query):
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/api/v1/orgs/acme/analytics/series?{query}")
    assert response.status_code == 200, response.content
    return {s["name"]: s["values"] for s in response.json()["series"]}


def test_dau_wau_mau_and_stickiness(history, acme, client_for):
    client = client_for(acme.admin)
    dau = _series(client, "metric=active_users&interval=day&start=2026-11-20T00:00:00Z&end=2026-11-25T00:00:00Z")
    assert dau[""] == [0, 0, 0, 1, 0]  # 20-24 Nov: only C, on the 23rd
    wau = _series(client, "metric=wau&start=2026-11-22T00:00:00Z&end=2026-11-24T00:00:00Z")
    assert wau[""] == [2, 2]  # 22 Nov: A (16th) and D (17th); 23 Nov: D and C (A's day left the window)
    mau = _series(client, "metric=mau&start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z")
    assert mau[""] == [4]
    sticky = _series(client, "metric=stickiness&start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z")
    assert sticky[""] == [25.0]
    weekly = _series(client, f"metric=active_users&interval=week&{RANGE}")
    assert weekly[""] == [3, 2, 2, 1]
    with time_machine.travel(at("2026-11-23T18:00:00"), tick=False):
        summary = client.get("/api/v1/orgs/acme/analytics/users").json()
    assert (summary["dau"], summary["wau"], summary["mau"], summary["stickiness"]) == (1, 2, 4, 25.0)


def test_lifecycle_new_returning_resurrected_dormant(history, acme, client_for):
    series = _series(client_for(acme.admin), f"metric=lifecycle&interval=week&{RANGE}")
    assert series == {
        "new": [3, 0, 1, 0],
        "returning": [0, 2, 1, 0],
        "resurrected": [0, 0, 0, 1],
        "dormant": [0, -1, -1, -2],
    }


def test_weekly_retention_cohorts(history, acme, client_for):
    with time_machine.travel(NOW, tick=False):
        response = client_for(acme.admin).get(f"/api/v1/orgs/acme/analytics/retention?{RANGE}")
    assert response.status_code == 200
    cohorts = response.json()["cohorts"]
    assert [c["size"] for c in cohorts] == [3, 0, 1, 0]
    assert cohorts[0]["retention"] == [100.0, 66.7, 33.3, 33.3]
    assert cohorts[0]["people"] == [3, 2, 1, 1]
    assert cohorts[2]["retention"] == [100.0, 0.0, None, None]


def test_team_filter(history, acme, client_for):
    _people, team = history
    weekly = _series(client_for(acme.admin), f"metric=active_users&interval=week&team={team.pk}&{RANGE}")
    assert weekly[""] == [2, 2, 1, 0]
    messages = _series(client_for(acme.admin), f"metric=messages_sent&interval=week&team={team.pk}&{RANGE}")
    assert messages[""] == [1, 1, 1, 0]


def test_feature_adoption_against_target(history, acme, client_for):
    with time_machine.travel(NOW, tick=False):
        body = client_for(acme.admin).get(f"/api/v1/orgs/acme/analytics/features?{RANGE}").json()
    by_key = {f["key"]: f for f in body["features"]}
    assert body["active_people"] == 4
    assert (by_key["messaging"]["adoption"], by_key["channels"]["adoption"], by_key["sso"]["adoption"]) == (
        50.0, 25.0, 25.0,
    )  # fmt: skip
    assert body["target"] == 90.0
    assert body["score"] == round((50 + 25 + 25) / 3, 1)
    assert body["meets_target"] is False
    assert by_key["messaging"]["trend"] == [33.3, 50.0, 100.0, 0.0]  # A of A,B,C; A of A,B; A and D; not C


def test_instance_wide_for_the_operator_only(history, acme, globex, client_for):
    store(globex.org, "message.posted", at("2026-11-23T09:00"), user=globex.member)
    with time_machine.travel(NOW, tick=False):
        fill_all()
    from tests.factories import UserFactory

    operator = UserFactory(is_superuser=True, is_staff=True)
    with time_machine.travel(NOW, tick=False):
        denied = client_for(acme.owner).get("/api/v1/instance/analytics/series?metric=active_users")
        body = client_for(operator).get(
            "/api/v1/instance/analytics/series?metric=active_users&start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z"
        )
    assert denied.status_code == 403
    assert body.status_code == 200
    assert body.json()["series"][0]["values"] == [2]  # C in acme and the globex member
