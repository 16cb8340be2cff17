# ruff: noqa: S603, S607, S310 -- an operator script running our own fixed commands and loopback URLs
"""Blue-green deployment on one machine: two gunicorn slots behind nginx, switched by renaming a socket symlink.

Used by bin/deploy and bin/rollback (see docs/operations/deploy.md). Layout under DEPLOY_ROOT (/srv/chatapp):

    releases/<sha>/            an unpacked bin/release tarball (src/, static/, dist/, REVISION)
    slots/<blue|green>/app     -> releases/<sha>/src; slot.env, gunicorn.pid, web.log beside it
    run/<blue|green>.sock      each slot's gunicorn socket; run/current.sock -> the live one (nginx's upstream)
    static/                    every release's collected static files (hashed names: both slots' coexist)
    venvs/<lock sha256>/       one virtualenv per requirements.lock, shared by releases with the same lock
    deploy.log                 one line per deploy, switch and rollback

nginx opens the symlink's target for every new upstream connection, and gunicorn's sync workers close each
connection after its answer, so an atomic rename(2) of the symlink moves new requests at once while requests in
flight finish on the old slot. No nginx reload, so no dropped keep-alive connections (PITFALLS.md, Operations).
Processes: under systemd (DEPLOY_SUPERVISOR=systemd) the slots are chatapp-web@blue/green units; otherwise
(DEPLOY_SUPERVISOR=process, the default where systemd is absent: CI, this machine) gunicorn runs daemonised.
"""

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLOTS = {"blue": 8001, "green": 8002}


class DeployError(Exception):
    pass


class Site:
    def __init__(self, root=None):
        self.root = Path(root or os.environ.get("DEPLOY_ROOT", "/srv/chatapp")).resolve()
        self.run = self.root / "run"
        self.current = self.run / "current.sock"
        base_port = int(os.environ.get("DEPLOY_BASE_PORT", "8001"))
        self.ports = {"blue": base_port, "green": base_port + 1}
        self.supervisor = os.environ.get("DEPLOY_SUPERVISOR") or (
            "systemd" if Path("/run/systemd/system").exists() and shutil.which("systemctl") else "process"
        )
        for sub in ("releases", "slots/blue", "slots/green", "run", "static", "venvs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # --- state ------------------------------------------------------------------------------------------------

    def log(self, message):
        line = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {message}"
        print(f"deploy: {message}", flush=True)
        with open(self.root / "deploy.log", "a") as handle:
            handle.write(line + "\n")

    def active(self):
        try:
            return Path(os.readlink(self.current)).stem
        except OSError:
            return None

    def idle(self):
        return "green" if self.active() == "blue" else "blue"

    def slot_dir(self, slot):
        return self.root / "slots" / slot

    def release_of(self, slot):
        try:
            return (self.slot_dir(slot) / "app" / "REVISION").read_text().split()[0]
        except OSError:
            return None

    def lock(self):
        handle = open(self.root / "deploy.lock", "w")  # noqa: SIM115 (held for the process's life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeployError("another deploy or rollback is running") from None
        return handle

    # --- install ----------------------------------------------------------------------------------------------

    def unpack(self, tarball):
        tarball = Path(tarball).resolve()
        with tarfile.open(tarball) as archive:
            top = archive.getnames()[0].split("/")[0]
            sha = top.removeprefix("chatapp-")
            target = self.root / "releases" / sha
            if not target.exists():
                staging = self.root / "releases" / f".{sha}.partial"
                shutil.rmtree(staging, ignore_errors=True)
                archive.extractall(staging, filter="data")
                (staging / top).rename(target)
                shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(target / "static", self.root / "static", dirs_exist_ok=True)
        shutil.copy(target / "REVISION", target / "src" / "REVISION")
        return sha, target

    def venv_for(self, release):
        """The release's virtualenv: shared by every release with the same lock (DEPLOY_VENV forces one)."""
        if os.environ.get("DEPLOY_VENV"):
            return Path(os.environ["DEPLOY_VENV"]).resolve()
        lock = (release / "requirements.lock").read_bytes()
        venv = self.root / "venvs" / hashlib.sha256(lock).hexdigest()[:16]
        if not (venv / "bin" / "python").exists():
            self.log(f"creating {venv} from requirements.lock (hash-checked)")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin/pip"), "install", "-q", "--require-hashes", "-r", str(release / "requirements.lock")],
                check=True,
            )
        return venv

    def install(self, slot, tarball):
        sha, release = self.unpack(tarball)
        venv = self.venv_for(release)
        link = release / "src" / ".venv"
        if not link.exists():
            link.symlink_to(venv)
        app = self.slot_dir(slot) / "app"
        tmp = self.slot_dir(slot) / "app.new"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(release / "src")
        os.replace(tmp, app)
        port = self.ports[slot]
        (self.slot_dir(slot) / "slot.env").write_text(
            f"GUNICORN_BIND=unix:{self.run / slot}.sock,127.0.0.1:{port}\n"
            f"PROMETHEUS_MULTIPROC_DIR={self.run / ('prometheus-' + slot)}\n"
            f"STATIC_ROOT={self.root / 'static'}\n"
            f"GUNICORN_PIDFILE={self.slot_dir(slot) / 'gunicorn.pid'}\n"
        )
        return sha

    def slot_env(self, slot, web=False):
        env = dict(os.environ)
        for line in (self.slot_dir(slot) / "slot.env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
        env.setdefault("CHATAPP_VAR_DIR", str(self.root / "var"))
        if not web:
            env.pop("PROMETHEUS_MULTIPROC_DIR")  # only gunicorn prepares (and empties) that directory
        return env

    MIGRATE = """
import importlib.machinery, importlib.util, json, sys
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
loader = importlib.machinery.SourceFileLoader("verify", "bin/verify")
verify = importlib.util.module_from_spec(importlib.util.spec_from_loader("verify", loader))
loader.exec_module(verify)
executor = MigrationExecutor(connection)
plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
if executor.loader.applied_migrations:  # a fresh database has no running release to break
    for migration, _ in plan:
        path = sys.modules[migration.__module__].__file__
        if ".venv" not in path and verify.lint_migration(path):
            print(f"{migration.app_label}.{migration.name}: {', '.join(verify.lint_migration(path))}")
            sys.exit(3)
call_command("migrate", "--no-input", verbosity=0)
print(f"{len(plan)} applied")
"""

    def migrate(self, slot):
        """Expand-only migrations: bin/verify's migration lint, then migrate, in one process (one Django start)."""
        app = self.slot_dir(slot) / "app"
        env = {**self.slot_env(slot), "DJANGO_SETTINGS_MODULE": "chatapp.settings"}
        result = subprocess.run(
            [str(app / ".venv/bin/python"), "-c", self.MIGRATE],
            cwd=app, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if result.returncode == 3:
            raise DeployError(f"backward-incompatible migration (contract it in a later release): {result.stdout}")
        if result.returncode:
            raise DeployError(f"migrate failed: {(result.stderr or result.stdout)[-1500:]}")
        return result.stdout.strip()

    # --- processes --------------------------------------------------------------------------------------------

    def pid(self, slot):
        try:
            pid = int((self.slot_dir(slot) / "gunicorn.pid").read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self, slot):
        if self.supervisor == "systemd":
            subprocess.run(["systemctl", "restart", f"chatapp-web@{slot}"], check=True)
            return
        self.stop(slot)
        app = self.slot_dir(slot) / "app"
        log = open(self.slot_dir(slot) / "web.log", "ab")  # noqa: SIM115 (handed to the child)
        subprocess.Popen(
            [str(app / ".venv/bin/gunicorn"), "chatapp.wsgi:application", "-c", "deploy/gunicorn.conf.py"],
            cwd=app, env=self.slot_env(slot, web=True), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    def stop(self, slot, timeout=30):
        if self.supervisor == "systemd":
            subprocess.run(["systemctl", "stop", f"chatapp-web@{slot}"], check=False)
            return
        pid = self.pid(slot)
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)  # graceful: running requests finish
        deadline = time.monotonic() + timeout
        while self.pid(slot) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.pid(slot):
            os.kill(pid, signal.SIGKILL)
        (self.slot_dir(slot) / "gunicorn.pid").unlink(missing_ok=True)

    # --- checks -----------------------------------------------------------------------------------------------

    def url(self, slot):
        return f"http://127.0.0.1:{self.ports[slot]}"

    def get(self, slot, path, timeout=5):
        request = urllib.request.Request(self.url(slot) + path, headers={"Host": "localhost"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return None, ""

    def wait_ready(self, slot, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, _ = self.get(slot, "/health/ready")
            if status == 200:
                return True
            time.sleep(0.5)
        return False

    def smoke(self, slot):
        args = json.loads(os.environ.get("DEPLOY_SMOKE_ARGS", "[]"))
        result = subprocess.run(
            [sys.executable, str(self.slot_dir(slot) / "app/bin/smoke"), self.url(slot), "--wait", "30", *args],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        for line in result.stdout.splitlines():
            print(f"deploy:   {line}", flush=True)
        return result.returncode == 0

    def counts(self, slot):
        """(requests, 5xx) answered so far by the slot, from its Prometheus counters."""
        status, text = self.get(slot, "/metrics")
        total = errors = 0.0
        if status != 200:
            return None
        for line in text.splitlines():
            if line.startswith("django_http_responses_total_by_status_total{"):
                value = float(line.rsplit(" ", 1)[1])
                total += value
                if 'status="5' in line:
                    errors += value
        return total, errors

    # --- switching --------------------------------------------------------------------------------------------

    def switch(self, slot):
        """Point current.sock at the slot: one atomic rename, no reload."""
        tmp = self.run / "current.sock.new"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(f"{slot}.sock")
        os.replace(tmp, self.current)
        (self.root / "active").write_text(slot + "\n")

    def watch(self, slot, seconds, max_error_ratio):
        """Readiness and error rate of the new slot for a while; a reason to roll back, or None."""
        before = self.counts(slot) or (0.0, 0.0)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
            status, _ = self.get(slot, "/health/ready")
            if status != 200:
                return f"readiness answered {status}"
            now = self.counts(slot)
            if now:
                requests, errors = now[0] - before[0], now[1] - before[1]
                if requests >= 100 and errors / requests > max_error_ratio:
                    return f"{errors:.0f} of {requests:.0f} requests failed (> {max_error_ratio:.2%})"
        return None


def deploy(tarball):
    site = Site()
    _lock = site.lock()
    old, new = site.active(), site.idle()
    started = time.monotonic()
    site.log(f"deploying {Path(tarball).name} into {new} (live: {old or 'none'}, supervisor {site.supervisor})")
    sha = site.install(new, tarball)
    site.log(f"installed {sha} into {new} ({time.monotonic() - started:.1f}s)")
    applied = site.migrate(new)
    site.log(f"migrations checked (expand-only) and {applied} ({time.monotonic() - started:.1f}s)")
    site.start(new)
    if not site.wait_ready(new, float(os.environ.get("DEPLOY_READY_TIMEOUT", 90))):
        site.stop(new)
        raise DeployError(f"{new} ({sha}) never became ready: traffic stays on {old}; see {site.slot_dir(new)}/web.log")
    site.log(f"{new} ready ({time.monotonic() - started:.1f}s); smoke test against it")
    if not site.smoke(new):
        site.stop(new)
        raise DeployError(f"smoke test failed on {new} ({sha}): traffic stays on {old} (rolled back)")
    site.switch(new)
    site.log(f"switched traffic to {new} ({sha}) after {time.monotonic() - started:.1f}s")
    watch_seconds = float(os.environ.get("DEPLOY_WATCH_SECONDS", 180))
    reason = site.watch(new, watch_seconds, float(os.environ.get("DEPLOY_MAX_ERROR_RATIO", 0.001)))
    if reason:
        if old and site.get(old, "/health/ready")[0] == 200:
            site.switch(old)
            site.log(f"ROLLED BACK to {old}: {new} failed while watched: {reason}")
            raise DeployError(f"rolled back to {old}: {reason}")
        raise DeployError(f"{new} failed while watched ({reason}) and no previous slot is ready to take over")
    site.log(f"{new} ({sha}) healthy for {watch_seconds:g}s; {old or 'no slot'} kept for bin/rollback")


def rollback():
    site = Site()
    _lock = site.lock()
    live, other = site.active(), site.idle()
    if site.get(other, "/health/ready")[0] != 200:
        raise DeployError(f"the previous slot ({other}) is not running or not ready: nothing to roll back to")
    site.switch(other)
    site.log(f"ROLLBACK: traffic moved from {live} to {other} ({site.release_of(other)})")
