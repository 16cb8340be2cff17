"""bin/backup and bin/restore: what runs without a cluster (the full drill runs in CI: make drill-restore)."""

import os
import subprocess

from tests.operations.conftest import ROOT


def script(name, *args, env=None):
    return subprocess.run(
        [str(ROOT / "bin" / name), *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_config_backup_is_encrypted_apart_and_recorded_for_monitoring(tmp_path):
    secrets_dir = tmp_path / "etc-chatapp"
    secrets_dir.mkdir()
    (secrets_dir / "chatapp.env").write_text("SECRET_KEY=s3cr3t-value\n")
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "chatapp_backup.prom").write_text('chatapp_backup_last_success_timestamp_seconds{type="full"} 1\n')
    env = {
        "CONFIG_BACKUP_DIR": str(tmp_path / "offsite"),
        "CONFIG_BACKUP_PASSPHRASE": "correct horse",
        "CONFIG_BACKUP_PATHS": str(secrets_dir),
        "BACKUP_METRICS_DIR": str(metrics),
    }
    result = script("backup", "--type", "config", env=env)
    assert result.returncode == 0, result.stderr
    [archive] = (tmp_path / "offsite").iterdir()
    assert b"s3cr3t-value" not in archive.read_bytes()
    assert oct(archive.stat().st_mode)[-3:] == "600"
    decrypted = subprocess.run(
        f"openssl enc -d -aes-256-cbc -pbkdf2 -iter 200000 -pass env:CONFIG_BACKUP_PASSPHRASE -in '{archive}' "
        f"| tar -xzf - -O",
        shell=True, capture_output=True, env={**os.environ, **env}, check=True,
    )  # fmt: skip
    assert b"SECRET_KEY=s3cr3t-value" in decrypted.stdout
    recorded = (metrics / "chatapp_backup.prom").read_text()
    assert 'chatapp_backup_last_success_timestamp_seconds{type="config"}' in recorded
    assert 'chatapp_backup_last_success_timestamp_seconds{type="full"} 1' in recorded  # the other types are kept
    assert recorded.count("# TYPE") == 1


def test_backup_refuses_an_unknown_type():
    result = script("backup", "--type", "weekly")
    assert result.returncode == 2
    assert "--type full, diff, incr or config" in result.stderr


def test_restore_needs_a_target_with_a_utc_offset():
    result = script("restore", "--to", "2026-05-01 10:00:00")
    assert result.returncode == 2
    assert "UTC offset" in result.stderr
    assert script("restore").returncode == 2


def test_restore_copy_needs_its_own_port(tmp_path):
    result = script("restore", "--to", "2026-05-01 10:00:00+00", "--datadir", str(tmp_path / "copy"))
    assert result.returncode == 2
    assert "needs its own --port" in result.stderr
