"""The reports API: definitions with versions, on-demand runs with progress and downloads, schedules with a
next-five preview and a test send, triggers, the delivery log; permissions, bad input and org isolation."""

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from reports.models import Delivery, Report, ReportRun, ReportVersion


@pytest.fixture
def eager():
    from chatapp.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _create(client, org="acme", **body):
    return client.post(f"/api/v1/orgs/{org}/reports/", body or {"template": "weekly_usage"}, format="json")


def test_create_from_template_edit_keeps_versions(acme, client_for):
    client = client_for(acme.admin)
    created = _create(client)
    assert created.status_code == 201, created.json()
    report = created.json()
    assert report["title"] == "Weekly usage" and report["version"] == 1 and len(report["sections"]) == 5
    changed = client.patch(f"/api/v1/orgs/acme/reports/{report['id']}/", {"title": "Team pulse"}, format="json")
    assert changed.status_code == 200 and changed.json()["version"] == 2
    versions = ReportVersion.objects.filter(report_id=report["id"]).order_by("version")
    assert [v.definition["title"] for v in versions] == ["Weekly usage", "Team pulse"]
    assert AuditEvent.objects.filter(event_name__in=["report.created", "report.updated"]).count() == 2


def test_bad_sections_are_clear_400s_and_nothing_is_written(acme, client_for):
    client = client_for(acme.admin)
    for sections, message in [
        ([{"type": "nope"}], "unknown type 'nope'"),
        ([{"type": "metric", "params": {"metric": "sales"}}], "'metric' is one of"),
        ([{"type": "metric", "params": {"metric": "messages_posted", "periods": 99}}], "'periods'"),
        ("not a list", "Expected a list"),
    ]:
        response = _create(client, title="x", sections=sections)
        assert response.status_code == 400, sections
        assert message in str(response.json()["errors"])
    assert _create(client, title="x", period="custom").status_code == 400
    assert not Report.objects.exists()


def test_member_cannot_build_reports_and_admin_cannot_add_sections_they_may_not_see(acme, client_for):
    assert _create(client_for(acme.member)).status_code == 403
    assert client_for(acme.member).get("/api/v1/orgs/acme/reports/").status_code == 403
    response = _create(client_for(acme.admin), title="Keys", sections=[{"type": "api_keys"}])
    assert response.status_code == 201  # admins manage API keys


def test_run_on_demand_progress_download_and_csv(acme, client_for, eager, django_capture_on_commit_callbacks):
    client = client_for(acme.admin)
    report = _create(client).json()
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(f"/api/v1/orgs/acme/reports/{report['id']}/runs")
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    run = client.get(f"/api/v1/orgs/acme/report-runs/{queued.json()['id']}/").json()
    assert (run["status"], run["progress"], run["page_count"]) == ("done", 100, 7)
    assert [t["title"] for t in run["tables"]] == ["This period against the previous", "Channels by activity"]
    pdf = client.get(f"/api/v1/orgs/acme/report-runs/{run['id']}/download")
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    csv = client.get(f"/api/v1/orgs/acme/report-runs/{run['id']}/tables/4.csv")
    assert csv.status_code == 200 and csv.content.decode().startswith("Channel,Visibility,Members,Messages")
    assert (
        client.get(f"/api/v1/orgs/acme/report-runs/{run['id']}/tables/3.json").json()[0]["Metric"] == "Messages posted"
    )
    assert client.get(f"/api/v1/orgs/acme/report-runs/{run['id']}/tables/1.csv").status_code == 404
    assert client.get(f"/api/v1/orgs/acme/report-runs/{run['id']}/tables/3.xlsx").status_code == 404
    # Downloads expire.
    ReportRun.objects.filter(pk=run["id"]).update(expires_at="2000-01-01T00:00:00Z")
    assert client.get(f"/api/v1/orgs/acme/report-runs/{run['id']}/download").status_code == 410
    assert AuditEvent.objects.filter(event_name="report.downloaded").count() == 1


def test_schedule_preview_pause_and_test_send(acme, client_for):
    client = client_for(acme.admin)
    report = _create(client).json()
    body = {"report": report["id"], "frequency": "monthly", "time_of_day": "09:00", "timezone": "Europe/Berlin",
            "ordinal": 1, "ordinal_day": 0, "recipients": [acme.member.email]}  # fmt: skip
    created = client.post("/api/v1/orgs/acme/report-schedules/", body, format="json")
    assert created.status_code == 201, created.json()
    schedule = created.json()
    preview = client.get(f"/api/v1/orgs/acme/report-schedules/{schedule['id']}/preview").json()["next_runs"]
    assert len(preview) == 5
    paused = client.patch(f"/api/v1/orgs/acme/report-schedules/{schedule['id']}/", {"is_paused": True}, format="json")
    assert paused.json()["is_paused"] is True
    test = client.post(f"/api/v1/orgs/acme/report-schedules/{schedule['id']}/test")
    assert test.status_code == 202 and test.json()["targets"][0]["address"] == acme.admin.email
    assert Delivery.objects.get(pk=test.json()["id"]).kind == "test"
    bad = client.post("/api/v1/orgs/acme/report-schedules/", {**body, "timezone": "Mars/Olympus"}, format="json")
    assert bad.status_code == 400 and "timezone" in bad.json()["errors"]


def test_triggers_api(acme, client_for):
    client = client_for(acme.admin)
    body = {"name": "Failed logins", "metric": "failed_logins", "threshold": 50, "clear_threshold": 40,
            "window_minutes": 60, "duration_minutes": 0, "recipients": [acme.admin.email]}  # fmt: skip
    created = client.post("/api/v1/orgs/acme/report-triggers/", body, format="json")
    assert created.status_code == 201 and created.json()["state"] == "ok"
    bad = client.post("/api/v1/orgs/acme/report-triggers/", {**body, "metric": "vibes"}, format="json")
    assert bad.status_code == 400


def test_list_query_counts(acme, client_for, django_assert_max_num_queries):
    client = client_for(acme.admin)
    for _ in range(3):
        _create(client)
    with django_assert_max_num_queries(12):
        assert len(client.get("/api/v1/orgs/acme/reports/").json()["results"]) == 3
    with django_assert_max_num_queries(12):
        client.get("/api/v1/orgs/acme/report-deliveries/")


def test_another_organizations_objects_are_404(acme, globex, client_for):
    theirs = _create(client_for(globex.admin), org="globex").json()
    mine = client_for(acme.admin)
    for path in (f"reports/{theirs['id']}/", f"reports/{theirs['id']}/runs"):
        method = mine.post if path.endswith("runs") else mine.get
        assert method(f"/api/v1/orgs/acme/{path}").status_code == 404
    assert mine.get("/api/v1/orgs/globex/reports/").status_code == 404
    assert mine.get("/api/v1/orgs/acme/reports/").json()["results"] == []
    schedule = {"report": theirs["id"], "frequency": "daily", "time_of_day": "09:00", "recipients": [acme.admin.email]}
    assert mine.post("/api/v1/orgs/acme/report-schedules/", schedule, format="json").status_code == 400


def test_render_report_command_writes_a_pdf(acme, tmp_path):
    out = tmp_path / "r.pdf"
    call_command("render_report", "--org", "acme", "--template", "security_compliance", "--out", str(out))
    assert out.read_bytes()[:5] == b"%PDF-"


# Builder page and admin


@pytest.fixture
def admin_browser(client, acme):
    client.force_login(acme.admin)
    return client


def test_builder_previews_then_saves_through_the_service(admin_browser, acme):
    form = {"title": "Pulse", "description": "", "period": "week", "pdf_variant": "pdf/a-3b", "row_count": 3,
            "type_0": "metric", "metric_0": "messages_posted", "periods_0": 8, "order_0": 2,
            "type_1": "text", "markdown_1": "**Hello** <script>alert(1)</script>", "order_1": 1,
            "type_2": ""}  # fmt: skip
    page = admin_browser.post("/reports/acme/builder/", {**form, "action": "preview"})
    html = page.content.decode()
    assert page.status_code == 200 and "Preview (last complete period)" in html
    assert "&lt;strong&gt;Hello&lt;/strong&gt;" in html and "alert(1)" not in html.split("srcdoc")[1].split("script")[0]
    assert "<script" not in html and "http://" not in html.split("<iframe")[0].replace("http://www.w3", "")
    assert not Report.objects.exists()
    saved = admin_browser.post("/reports/acme/builder/", {**form, "action": "save"})
    report = Report.objects.get()
    assert saved.status_code == 302 and [s["type"] for s in report.sections] == ["text", "metric"]
    assert report.pdf_variant == "pdf/a-3b"
    bad = admin_browser.post(f"/reports/acme/builder/{report.pk}/", {**form, "metric_0": "nope", "action": "save"})
    assert bad.status_code == 400 and "metric" in bad.content.decode()
    report.refresh_from_db()
    assert report.version == 1


def test_builder_is_for_report_managers_of_that_org(client, acme, globex):
    client.force_login(acme.member)
    assert client.get("/reports/acme/builder/").status_code == 403
    client.force_login(globex.admin)
    assert client.get("/reports/acme/builder/").status_code == 404
    assert client.get("/reports/globex/builder/?template=security_compliance").status_code == 200


def test_admin_screens_with_filters_and_actions(client, acme, client_for):
    from accounts.models import Membership

    root = acme.owner
    root.is_staff = root.is_superuser = True
    root.save()
    client.force_login(root)
    report = _create(client_for(acme.admin)).json()
    for path in ["reports/report/", "reports/report/?period__exact=week", "reports/reportrun/?status__exact=done",
                 "reports/schedule/?is_paused__exact=1", "reports/delivery/?kind__exact=scheduled",
                 "reports/trigger/?state__exact=ok", f"reports/report/{report['id']}/change/"]:  # fmt: skip
        assert client.get(f"/admin/{path}").status_code == 200, path
    client.post("/admin/reports/report/", {"action": "run_now", "_selected_action": [report["id"]]})
    assert ReportRun.objects.filter(report_id=report["id"]).count() == 1
    assert Membership.objects.filter(user=root, organization=acme.org).exists()
