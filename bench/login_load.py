"""Reads beside password logins: does hashing passwords (Argon2, on every core) starve the API's readers?

Run by bench/run against its gunicorn (production settings, PostgreSQL, Redis). Two phases of the same length,
side by side in one run: 150 reads/s alone (the baseline), then 150 reads/s while 5 logins/s run beside them.
Open loop: each request has a slot on a fixed schedule and its latency counts from that slot, so a server that
falls behind shows it (no coordinated omission). Target (account-security issue): read p95 < 100 ms with the
logins running.

    python bench/login_load.py --base http://127.0.0.1:PORT --session SESSIONID --path /api/v1/... \
        --email owner@acme.example --password ... [--seconds 10]
"""

import argparse
import http.client
import json
import statistics
import threading
import time
from urllib.parse import urlsplit

READS_PER_S = 150
LOGINS_PER_S = 5
READ_THREADS = 24
LOGIN_THREADS = 4


def _percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] if ordered else float("nan")


def _worker(base, rate, threads, index, start, stop, request, latencies, failures):
    """Thread `index` of `threads` owns every `threads`-th slot of a schedule at `rate` per second."""
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    slot = index
    while True:
        due = start + slot / rate
        if due >= stop:
            break
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            status = request(conn)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
            status = 0
        latencies.append((time.monotonic() - due) * 1000)
        if status != 200:
            failures.append(status)
        slot += threads
    conn.close()


def _phase(args, *, logins: bool) -> dict:
    reads, read_failures, login_times, login_failures = [], [], [], []
    cookie = {"Cookie": f"sessionid={args.session}"}
    body = json.dumps({"email": args.email, "password": args.password})

    def read(conn):
        conn.request("GET", args.path, headers=cookie)
        response = conn.getresponse()
        response.read()
        return response.status

    def login(conn):
        conn.request("POST", "/api/v1/auth/session", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status

    start = time.monotonic() + 0.2
    stop = start + args.seconds
    threads = [
        threading.Thread(
            target=_worker, args=(args.base, READS_PER_S, READ_THREADS, i, start, stop, read, reads, read_failures)
        )
        for i in range(READ_THREADS)
    ]
    if logins:
        threads += [
            threading.Thread(
                target=_worker,
                args=(args.base, LOGINS_PER_S, LOGIN_THREADS, i, start, stop, login, login_times, login_failures),
            )
            for i in range(LOGIN_THREADS)
        ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "reads": len(reads),
        "read_p50": statistics.median(reads),
        "read_p95": _percentile(reads, 95),
        "read_p99": _percentile(reads, 99),
        "read_failures": len(read_failures),
        "logins": len(login_times),
        "login_p50": statistics.median(login_times) if login_times else float("nan"),
        "login_p95": _percentile(login_times, 95),
        "login_failures": sorted(set(login_failures)),
    }


def main():
    parser = argparse.ArgumentParser()
    for name in ("base", "session", "path", "email", "password"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    alone = _phase(args, logins=False)
    beside = _phase(args, logins=True)
    print(f"\nReads beside logins ({READS_PER_S} reads/s, {LOGINS_PER_S} logins/s, {args.seconds:g} s each)")
    header = ("phase", "reads", "p50 ms", "p95 ms", "p99 ms", "failed", "logins", "login p50", "login p95")
    print("".join(f"{h:>11}" for h in header))
    for name, row in (("reads alone", alone), ("reads + logins", beside)):
        cells = [row[k] for k in ("reads", "read_p50", "read_p95", "read_p99", "read_failures", "logins")]
        cells += [row["login_p50"], row["login_p95"]]
        print(f"{name:>11}" + "".join(f"{c:>11.1f}" if isinstance(c, float) else f"{c:>11}" for c in cells))
    ratio = beside["read_p95"] / alone["read_p95"] if alone["read_p95"] else float("nan")
    verdict = "met" if beside["read_p95"] < 100 else "MISSED"
    print(f"read p95 with logins: {beside['read_p95']:.1f} ms ({ratio:.2f}x alone); target < 100 ms: {verdict}")
    if beside["login_failures"]:
        print(f"login answers other than 200: {beside['login_failures']}")
    return 1 if alone["read_failures"] or beside["read_failures"] or beside["login_failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
