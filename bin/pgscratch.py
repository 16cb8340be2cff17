"""Scratch PostgreSQL clusters on free loopback ports, for the restore drill and the replica tests.

Standard library only. As root, the server binaries run as the postgres user (PostgreSQL refuses root); as any
other user they run as that user. Nothing here touches the machine's own cluster on 5432.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found: install postgresql-15 (bin/setup does)")
    return Path(found[-1]).parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_owner(args):
    """The command, run as postgres when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *map(str, args)]
    return list(map(str, args))


def run(args, **kwargs):
    kwargs.setdefault("check", True)
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 300)
    try:
        return subprocess.run(as_owner(args), **kwargs)  # noqa: S603 (our own fixed commands)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{' '.join(map(str, args))} failed: {exc.stderr or exc.stdout}") from None


def workdir(prefix):
    """A directory the postgres user owns (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


class Cluster:
    def __init__(self, datadir, port):
        self.datadir, self.port = Path(datadir), port
        self.log = self.datadir.parent / f"{self.datadir.name}.log"

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}"

    @classmethod
    def init(cls, datadir, settings=""):
        cluster = cls(datadir, free_port())
        run([bindir() / "initdb", "-D", datadir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        cluster.configure(settings)
        return cluster

    def configure(self, settings=""):
        """Append settings (later lines win) and this cluster's own port and socket directory."""
        conf = self.datadir / "postgresql.conf"
        text = (
            f"\n# scratch cluster\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
            f"unix_socket_directories = '{self.datadir.parent}'\nfsync = off\nshared_buffers = 32MB\n"
            f"max_connections = 30\n{settings}\n"
        )
        run(["sh", "-c", f"cat >> '{conf}'"], input=text)

    def start(self):
        run([bindir() / "pg_ctl", "-D", self.datadir, "-l", self.log, "-w", "-t", "60", "start"])
        return self

    def stop(self, mode="fast"):
        run([bindir() / "pg_ctl", "-D", self.datadir, "-m", mode, "-w", "stop"], check=False)

    def psql(self, sql, db="postgres"):
        args = ["-X", "-q", "-At", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "-d", db]
        args += ["-v", "ON_ERROR_STOP=1"]
        result = run([bindir() / "psql", *args, "-c", sql])
        return result.stdout.strip()

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = [str(bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
            if subprocess.run(probe).returncode == 0:  # noqa: S603 (fixed command)
                return
            time.sleep(0.2)
        raise RuntimeError(f"cluster on port {self.port} did not become ready; see {self.log}")
