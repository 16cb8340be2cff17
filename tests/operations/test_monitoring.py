"""Alert rules checked and unit-tested with promtool; each alert has a runbook; the metrics they read exist."""

import json
import re
import subprocess

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.operations.conftest import ROOT

PROMETHEUS = ROOT / "deploy/prometheus"
RULES = yaml.safe_load((PROMETHEUS / "chatapp.rules.yml").read_text())
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"] if "alert" in rule]


def promtool(*args):
    return subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_rules_and_the_scrape_config():
    rules = promtool("check", "rules", "chatapp.rules.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 17 rules found" in rules.stdout
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_unit_tests_pass():
    result = promtool("test", "rules", "chatapp.rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_catch_a_broken_rule(tmp_path):
    # The unit tests are not vacuous: a threshold of 1 % instead of 0.1 % makes them fail.
    broken = (PROMETHEUS / "chatapp.rules.yml").read_text().replace("> 0.001 and", "> 0.01 and")
    (tmp_path / "chatapp.rules.yml").write_text(broken)
    (tmp_path / "chatapp.rules.test.yml").write_text((PROMETHEUS / "chatapp.rules.test.yml").read_text())
    result = subprocess.run(
        ["promtool", "test", "rules", "chatapp.rules.test.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "ChatappHighErrorRate" in result.stdout + result.stderr


def test_every_alert_in_the_issue_exists_with_a_priority_and_a_runbook():
    names = {rule["alert"] for rule in ALERTS}
    assert {
        "ChatappHighErrorRate", "ChatappSlowRequests", "ChatappNotReady", "ChatappCeleryBacklog",
        "ChatappDatabaseConnectionsHigh", "ChatappReplicaLag", "ChatappBackupTooOld", "ChatappDiskFilling",
        "ChatappCertificateExpiring", "ChatappErrorBudgetExhausted",
    } <= names  # fmt: skip
    tested = (PROMETHEUS / "chatapp.rules.test.yml").read_text()
    for rule in ALERTS:
        assert rule["labels"]["priority"] in ("P1", "P2", "P3", "P4"), rule["alert"]
        runbook = ROOT / rule["annotations"]["runbook_url"]
        assert runbook.exists(), runbook
        text = runbook.read_text()
        assert rule["labels"]["priority"] in text, runbook
        assert f"alertname: {rule['alert']}" in tested, f"{rule['alert']} has no promtool test"


@pytest.mark.django_db
def test_the_application_metrics_the_rules_read_exist(client, acme, client_for):
    client_for(acme.member).get("/api/v1/orgs/acme/channels/")
    exposed = {
        sample.name
        for family in text_string_to_metric_families(client.get("/metrics").content.decode())
        for sample in family.samples
    }
    source = (PROMETHEUS / "chatapp.rules.yml").read_text()
    used = set(re.findall(r"\b(django_[a-z_]+)\{", source))
    assert used and used <= exposed, used - exposed


def test_grafana_dashboard_is_valid_and_uses_the_recorded_series():
    dashboard = json.loads((ROOT / "deploy/grafana/chatapp-dashboard.json").read_text())
    assert dashboard["uid"] == "chatapp-overview"
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for series in ("chatapp:http_error_ratio:rate5m", "chatapp:http_latency_seconds:p95_5m",
                   "chatapp:availability:ratio_30d", "chatapp:error_budget:remaining_ratio_30d"):  # fmt: skip
        assert series in exprs
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
