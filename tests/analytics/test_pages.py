"""The server-rendered dashboard page: charts inline as SVG without scripts, the time-range switch, access
rules; and in headless Chromium, the organization overview with its charts."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.stats import fill_all
from tests.analytics.conftest import store
from tests.factories import PASSWORD


@pytest.fixture
def activity(acme):
    now = timezone.now()
    for days_ago in range(5):
        for who in (acme.member, acme.owner):
            store(acme.org, "message.posted", now - timedelta(days=days_ago, minutes=5), user=who, channel=acme.public)
    fill_all()


def test_overview_page_renders_charts_and_switches_range(client, acme, activity):
    client.force_login(acme.admin, backend="accounts.backends.EmailBackend")
    home = client.get("/analytics/acme/")
    assert home.status_code == 302
    page = client.get(home["Location"] + "?range=7d")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Organization overview" in html
    assert html.count("<svg") >= 3 and "<script" not in html
    assert re.search(r'id="range-7d" aria-current', html)
    assert "No activity in this period" not in html
    custom = client.get(home["Location"] + "?start=2026-01-01&end=2026-01-31").content.decode()
    assert 'value="2026-01-01"' in custom and "No activity in this period" in custom  # the empty state


def test_page_access(client, acme, globex, activity):
    client.force_login(acme.member, backend="accounts.backends.EmailBackend")
    overview = client.get("/analytics/acme/")["Location"]
    assert client.get(overview).status_code == 404  # members need dashboards.view
    client.force_login(globex.owner, backend="accounts.backends.EmailBackend")
    assert client.get("/analytics/acme/").status_code == 404
    assert client.get("/analytics/instance/").status_code == 403
    client.logout()
    assert client.get(overview).status_code == 302  # to the login page


def test_org_overview_in_headless_chromium(live_server, allow_audit_flush, acme, activity, browser_page):
    page, base = browser_page, live_server.url
    page.goto(f"{base}/accounts/login/?next=/analytics/acme/")
    page.fill("input[name=login]", acme.admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/analytics/acme/dashboards/\d+/$"))
    assert page.inner_text("#dashboard-title") == "Organization overview"
    charts = page.locator("section[data-chart=line] svg, section[data-chart=bar] svg")
    assert charts.count() >= 3
    box = charts.first.bounding_box()
    assert box["width"] > 200 and box["height"] > 80  # drawn, not an empty element
    assert page.locator("section[data-chart=number] .number").first.inner_text() != ""
    page.click("#range-7d")
    page.wait_for_url(re.compile(r"range=7d"))
    assert page.locator("#range-7d[aria-current]").count() == 1
