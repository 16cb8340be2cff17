"""gunicorn for chatapp: sync workers with persistent DB connections (the fast path, see PITFALLS.md).

Every setting can be overridden with the environment variable named beside it.
"""

import multiprocessing
import os
import shutil
from pathlib import Path

# One or more addresses, comma-separated: a blue-green slot listens on its unix socket (which nginx reaches
# through the swapped symlink) and on a loopback TCP port (Prometheus scrapes it; bin/smoke tests it directly),
# e.g. GUNICORN_BIND=unix:/run/chatapp/blue.sock,127.0.0.1:8001.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# `kill -HUP` re-reads the code and starts new workers before stopping the old ones (a graceful reload);
# `kill -TERM` lets running requests finish for up to graceful_timeout seconds.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 20))
keepalive = 5
# Recycle workers now and then so a slow leak can never take a machine down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = 500
accesslog = None  # chatapp logs one structured line per request itself
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
pidfile = os.environ.get("GUNICORN_PIDFILE") or None
# gunicorn 23+ opens a control socket at one fixed path per user ($HOME/.gunicorn/gunicorn.ctl): two instances
# on one machine (blue and green slots) would fight over it. We do not use it, so it is off unless asked for.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# Prometheus needs one shared directory for the metrics of all worker processes. It must be set before any
# worker imports prometheus_client, and emptied at start so that counters of a previous run do not leak in.
_metrics_dir = Path(
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", str(Path(__file__).resolve().parent.parent / "var" / "prometheus")
    )
)


def on_starting(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
