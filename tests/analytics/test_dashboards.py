"""Dashboards: CRUD with tiles, RBAC grants per dashboard (a team's dashboard is a 404 for anyone else),
duplicate, JSON and CSV export, the built-in overviews with an empty state, org isolation, query counts."""

import pytest
from django.db import transaction

from analytics.models import Dashboard
from analytics.rendering import dashboard_render
from analytics.services import dashboard_create
from audit.models import AuditEvent
from rbac.models import Team, TeamMember
from rbac.services.grants import grant_create
from rbac.services.roles import role_create

BASE = "/api/v1/orgs/acme/analytics/dashboards/"
TILES = [
    {"title": "Messages", "metric": "messages_sent", "chart": "line", "interval": "day"},
    {"title": "DAU", "metric": "active_users", "chart": "number"},
    {"title": "By client", "metric": "messages_sent", "chart": "bar", "breakdown": "client"},
]


@pytest.fixture
def team_dashboard(acme):
    """A dashboard shared with the team "Sales" (the member is not in it; the guest is)."""
    with transaction.atomic():
        dashboard = dashboard_create(actor=acme.owner, org=acme.org, name="Sales board", tiles=TILES)
        team = Team.objects.create(organization=acme.org, name="Sales")
        TeamMember.objects.create(organization=acme.org, team=team, user=acme.guest)
        viewer = role_create(actor=acme.owner, org=acme.org, name="Dashboard viewer", permissions=["dashboards.view"])
        grant_create(actor=acme.owner, org=acme.org, role=viewer, team=team, resource=dashboard)
    return dashboard


def test_create_with_tiles_read_update_delete(acme, client_for):
    client = client_for(acme.admin)
    created = client.post(BASE, {"name": "Usage", "tiles": TILES}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert [t["title"] for t in created.json()["tiles"]] == ["Messages", "DAU", "By client"]
    assert client.patch(f"{BASE}{pk}/", {"name": "Usage 2"}, format="json").json()["name"] == "Usage 2"
    tile = client.post(f"{BASE}{pk}/tiles/", {"title": "Retention", "metric": "retention", "chart": "table",
                                              "interval": "week"}, format="json")  # fmt: skip
    assert tile.status_code == 201
    tile_url = f"/api/v1/orgs/acme/analytics/tiles/{tile.json()['id']}/"
    changed = client.patch(tile_url, {"title": "Cohorts"}, format="json")
    assert changed.json()["title"] == "Cohorts"
    assert client.delete(tile_url).status_code == 204
    assert client.delete(f"{BASE}{pk}/").status_code == 204
    names = list(AuditEvent.objects.filter(organization=acme.org, event_name__startswith="dashboard.")
                 .order_by("sequence").values_list("event_name", flat=True))  # fmt: skip
    assert names == ["dashboard.created", "dashboard.updated", "dashboard.tile_added", "dashboard.tile_updated",
                     "dashboard.tile_removed", "dashboard.deleted"]  # fmt: skip


@pytest.mark.parametrize(
    ("tile", "field"),
    [
        ({"title": "x", "metric": "nope"}, "metric"),
        ({"title": "x", "metric": "wau", "interval": "hour"}, "interval"),
        ({"title": "x", "metric": "active_users", "breakdown": "channel"}, "breakdown"),
        ({"title": "x", "metric": "active_users", "filters": {"planet": "mars"}}, "filters"),
        ({"title": "x", "metric": "active_users", "chart": "pie3d"}, "chart"),
        ({"title": "x", "metric": "active_users", "colour": "red"}, "colour"),
    ],
)
def test_bad_tiles_are_refused_with_the_field_and_nothing_written(acme, client_for, tile, field):
    response = client_for(acme.admin).post(BASE, {"name": "Bad", "tiles": [tile]}, format="json")
    assert response.status_code == 400
    assert field in json_errors(response)
    assert not Dashboard.objects.filter(name="Bad").exists()


def json_errors(response) -> str:
    return str(response.json())


def test_a_team_dashboard_is_a_404_without_the_grant(team_dashboard, acme, client_for):
    url = f"{BASE}{team_dashboard.pk}/"
    assert client_for(acme.member).get(url).status_code == 404
    assert client_for(acme.member).get(f"{url}data/").status_code == 404
    assert client_for(acme.guest).get(url).status_code == 200  # in the team
    assert [d["name"] for d in client_for(acme.guest).get(BASE).json()] == ["Sales board"]
    # Seeing is not editing.
    assert client_for(acme.guest).patch(url, {"name": "Mine"}, format="json").status_code == 403
    assert client_for(acme.guest).get(f"{url}data/").status_code == 200
    tile_id = team_dashboard.tiles.first().pk
    assert client_for(acme.guest).get(f"/api/v1/orgs/acme/analytics/tiles/{tile_id}/data/").status_code == 200
    assert client_for(acme.member).get(f"/api/v1/orgs/acme/analytics/tiles/{tile_id}/data/").status_code == 404
    assert client_for(acme.admin).get(url).status_code == 200  # dashboards.view org-wide


def test_duplicate_and_export(team_dashboard, acme, client_for):
    client = client_for(acme.admin)
    copy = client.post(f"{BASE}{team_dashboard.pk}/duplicate/", {}, format="json")
    assert copy.status_code == 201
    assert copy.json()["name"] == "Sales board (copy)"
    assert [t["metric"] for t in copy.json()["tiles"]] == [t["metric"] for t in TILES]
    definition = client.get(f"{BASE}{team_dashboard.pk}/export/").json()
    assert definition["name"] == "Sales board" and len(definition["tiles"]) == 3 and "id" not in definition["tiles"][0]
    tile_id = team_dashboard.tiles.order_by("position").first().pk
    csv = client.get(f"/api/v1/orgs/acme/analytics/tiles/{tile_id}/export/?range=7d")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0] == "bucket,Messages" and len(lines) == 8
    exported = AuditEvent.objects.filter(event_name="dashboard.exported").values_list("metadata", flat=True)
    assert sorted(m["format"] for m in exported) == ["csv", "json"]
    assert client_for(acme.guest).post(f"{BASE}{team_dashboard.pk}/duplicate/", {}, format="json").status_code == 403


def test_org_overview_is_built_in_with_an_empty_state(acme, client_for):
    dashboards = client_for(acme.admin).get(BASE).json()
    overview = next(d for d in dashboards if d["builtin"] == "org_overview")
    data = client_for(acme.admin).get(f"{BASE}{overview['id']}/data/?range=30d").json()
    assert len(data["tiles"]) == 8
    assert all(t["empty"] and not t["error"] for t in data["tiles"])
    assert client_for(acme.admin).get(BASE).json() == dashboards  # created once


def test_org_isolation(team_dashboard, acme, globex, client_for):
    client = client_for(globex.owner)
    url = f"/api/v1/orgs/globex/analytics/dashboards/{team_dashboard.pk}/"
    tile_id = team_dashboard.tiles.first().pk
    assert client.get(url).status_code == 404
    assert client.get(f"{url}data/").status_code == 404
    assert client.post(f"{url}duplicate/", {}, format="json").status_code == 404
    assert client.get(f"/api/v1/orgs/globex/analytics/tiles/{tile_id}/data/").status_code == 404
    assert client.delete(f"/api/v1/orgs/globex/analytics/tiles/{tile_id}/").status_code == 404
    assert client.post(f"{url}tiles/", {"title": "x", "metric": "events"}, format="json").status_code == 404
    assert client.get(f"{BASE}{team_dashboard.pk}/").status_code == 404  # not a member of acme
    assert client.get("/api/v1/orgs/acme/analytics/series?metric=events").status_code == 404
    for path in ("users", "features", "retention", "metrics", "settings"):
        assert client.get(f"/api/v1/orgs/acme/analytics/{path}").status_code == 404
    assert Dashboard.objects.filter(pk=team_dashboard.pk).exists()


def test_analytics_reads_need_analytics_view(acme, client_for):
    assert client_for(acme.member).get("/api/v1/orgs/acme/analytics/series?metric=events").status_code == 403
    assert client_for(acme.admin).get("/api/v1/orgs/acme/analytics/series?metric=events").status_code == 200
    bad = client_for(acme.admin).get("/api/v1/orgs/acme/analytics/series?metric=events&interval=hour&range=90d")
    assert bad.status_code == 400 and "interval" in bad.json()["errors"]
    bad = client_for(acme.admin).get("/api/v1/orgs/acme/analytics/series?metric=mau&breakdown=client")
    assert bad.status_code == 400 and "breakdown" in bad.json()["errors"]
    assert client_for(acme.admin).get("/api/v1/orgs/acme/analytics/series?metric=x").status_code == 400


def test_query_counts_are_bounded_per_tile(acme, client_for, django_assert_max_num_queries):
    client = client_for(acme.admin)
    overview = next(d for d in client.get(BASE).json() if d["builtin"])
    client.get(f"{BASE}{overview['id']}/data/")  # warm the permission caches like a real session would
    # 8 tiles: at most 2 queries a tile (a number tile reads its period and the one before), plus the request's own.
    with django_assert_max_num_queries(8 * 2 + 8):
        assert client.get(f"{BASE}{overview['id']}/data/").status_code == 200
    for _ in range(5):
        client.post(BASE, {"name": "More", "tiles": TILES}, format="json")
    with django_assert_max_num_queries(8):
        assert len(client.get(BASE).json()) == 6


def test_render_outside_a_request_for_reports(acme):
    with transaction.atomic():
        dashboard = dashboard_create(actor=acme.owner, org=acme.org, name="For PDF", tiles=TILES)
    from datetime import UTC, datetime

    results = dashboard_render(dashboard, org=acme.org, start=datetime(2026, 11, 1, tzinfo=UTC),
                               end=datetime(2026, 11, 8, tzinfo=UTC))  # fmt: skip
    assert [r.tile.title for r in results] == ["Messages", "DAU", "By client"]
    chart = results[0].chart()
    assert chart.kind == "line" and len(chart.x_labels) == 7
    assert results[0].svg().startswith("<?xml") and "<script" not in results[0].svg()
    assert results[1].chart() is None and results[1].value == 0  # a number tile is drawn as text
