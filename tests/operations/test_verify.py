"""`make verify` (bin/verify): one line per check, and one planted failure per check type makes it exit 1."""

import subprocess
from pathlib import Path

import pytest

from tests.operations.conftest import ROOT, production_env, run_script


def verify(*args, env=None):
    return run_script("bin/verify", *args, env=env)


def line_for(result, check):
    return next(line for line in result.stdout.splitlines() if line[2:].split(":")[0].split(" ")[0] == check)


def assert_failed(result, check, *words):
    assert result.returncode == 1, result.stdout + result.stderr
    line = line_for(result, check)
    assert line.startswith(f"✗ {check}:"), line
    for word in words:
        assert word in line, line
    assert "✗ 1 failed" in result.stdout.splitlines()[-1]


def make_cert(tmp_path, days):
    key, cert = tmp_path / "key.pem", tmp_path / f"cert{days}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", str(days), "-subj", "/CN=chat.example.com"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert


def test_checks_that_pass_print_one_line_each_and_a_summary(tmp_path):
    cert = make_cert(tmp_path, 90)
    result = verify("--only", "lock,bandit,disk,tls,migration-lint", "--cert", str(cert))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line[:2] for line in lines[:-1]] == ["✓ "] * 5
    assert "packages pinned with hashes and installed as locked" in line_for(result, "lock")
    assert "valid for 89 more days" in line_for(result, "tls") or "valid for 90 more days" in line_for(result, "tls")
    assert lines[-1] == "verify: 5 of 5 checks passed"


def test_planted_test_failure(tmp_path):
    (tmp_path / "test_planted.py").write_text("def test_planted():\n    assert 1 + 1 == 3\n")
    result = verify("--only", "tests", "--pytest-args", f"-p no:xdist -p no:django {tmp_path / 'test_planted.py'}")
    assert_failed(result, "tests", "1 failed")
    assert result.stdout.splitlines()[-1].startswith("verify: ✗ tests")


def test_tests_that_pass_are_counted(tmp_path):
    (tmp_path / "test_fine.py").write_text("def test_a():\n    assert True\n\ndef test_b():\n    assert True\n")
    result = verify("--only", "tests", "--pytest-args", f"-p no:xdist -p no:django {tmp_path / 'test_fine.py'}")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1].startswith("verify: ✓ tests 2 passed")


def test_deploy_check_passes_with_the_production_profile_and_fails_on_a_warning(var_dir):
    good = verify("--only", "deploy", env={**production_env(), **var_dir})
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1].startswith("verify: ✓ deploy 0 warnings")
    planted = verify("--only", "deploy", env={**production_env(SECURE_HSTS_SECONDS="0"), **var_dir})
    assert_failed(planted, "deploy", "security.W004")


def test_deploy_check_refuses_a_development_profile(var_dir):
    result = verify("--only", "deploy", env={"CHATAPP_ENV": "development", **var_dir})
    assert_failed(result, "deploy", "CHATAPP_ENV is not production")


def test_planted_unapplied_migrations(tmp_path):
    # A fresh SQLite database has every migration pending.
    result = verify("--only", "migrations", env={"CHATAPP_VAR_DIR": str(tmp_path), "DATABASE_URL": None})
    assert_failed(result, "migrations", "unapplied")


@pytest.mark.parametrize(
    "operation",
    [
        "migrations.RemoveField(model_name='message', name='body')",
        "migrations.RenameField(model_name='message', old_name='body', new_name='text')",
        "migrations.RunSQL('ALTER TABLE chat_message DROP COLUMN body')",
    ],
)
def test_planted_backward_incompatible_migration(tmp_path, operation):
    migration = tmp_path / "0099_planted.py"
    migration.write_text(
        f"from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        f"    dependencies = []\n    operations = [{operation}]\n"
    )
    result = verify("--only", "migration-lint", "--lint-files", str(migration))
    assert_failed(result, "migration-lint", "backward-incompatible")
    # The same operation shipped as the contract step of an expand/contract change passes.
    marked = migration.read_text().replace("    dependencies", "    contract_safe = True\n    dependencies")
    migration.write_text(marked)
    assert verify("--only", "migration-lint", "--lint-files", str(migration)).returncode == 0


def test_planted_lock_without_hashes(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text((ROOT / "requirements.lock").read_text() + "left-pad==1.0.0\n")
    assert_failed(verify("--only", "lock", "--lock", str(lock)), "lock", "without --hash", "left-pad")


def test_planted_lock_drift(tmp_path):
    text = (ROOT / "requirements.lock").read_text()
    lock = tmp_path / "requirements.lock"
    import re

    lock.write_text(re.sub(r"(?m)^django==[^ ]+", "django==4.0.0", text, count=1))
    assert_failed(verify("--only", "lock", "--lock", str(lock)), "lock", "django 4.0.0 locked")


def test_planted_bandit_finding(tmp_path):
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n")
    result = verify("--only", "bandit", "--bandit-paths", str(package))
    assert_failed(result, "bandit", "B602")


def test_planted_unreachable_database(var_dir):
    result = verify("--only", "services", env={"DATABASE_URL": "postgres://nobody@127.0.0.1:9/none", **var_dir})
    assert_failed(result, "services", "database unreachable")


def test_planted_unreachable_cache(var_dir):
    result = verify("--only", "services", env={"REDIS_URL": "redis://127.0.0.1:9/0", **var_dir})
    assert_failed(result, "services", "cache unreachable")


def test_planted_full_disk():
    assert_failed(verify("--only", "disk", "--min-free-gb", "100000"), "disk", "below 100000 GB")


def test_planted_expiring_certificate(tmp_path):
    cert = make_cert(tmp_path, 5)
    assert_failed(verify("--only", "tls", "--cert", str(cert)), "tls", "expires in")


def test_dependency_audit_says_not_checked_when_unreachable_and_strict_fails():
    result = verify("--only", "audit", "--audit-probe-url", "http://127.0.0.1:9/")
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("- audit not checked: vulnerability service unreachable")
    assert "0 known vulnerabilities" not in result.stdout
    assert result.stdout.splitlines()[-1] == "verify: 0 of 1 checks passed · - 1 not checked"
    assert verify("--only", "audit", "--audit-probe-url", "http://127.0.0.1:9/", "--strict").returncode == 1


def test_unknown_check_is_refused():
    result = verify("--only", "tset")
    assert result.returncode == 2
    assert "unknown checks: tset" in result.stderr


def test_makefile_runs_verify():
    assert "bin/verify" in Path(ROOT / "Makefile").read_text()
