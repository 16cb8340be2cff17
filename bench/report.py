"""Print the bench table, the DRF/baseline ratios and the verdict against the targets.

Reads the lines bench/run collects (`endpoint=drf connections=16 max_db=5 requests=... p95_us=...`, the
wrk fields from bench/report.lua). Exit status 1 when any request failed, 0 otherwise: a missed performance
target is reported as MISSED, not as a failure of the run.
"""

import argparse
import sys

# The targets (docs/performance.md).
MIN_RATIO = 0.4
MAX_P95_MS = 100.0
P95_CONNECTIONS = 64
LABELS = {"baseline": "bare Django view (.values())", "drf": "DRF message list"}


def parse(path: str) -> list[dict]:
    rows = []
    with open(path) as lines:
        for line in lines:
            fields = dict(pair.split("=", 1) for pair in line.split())
            row = {key: value if key == "endpoint" else int(value) for key, value in fields.items()}
            row["rps"] = row["requests"] / (row["duration_us"] / 1e6)
            row["cpu_ms"] = row["cpu_us"] / 1000 / row["requests"] if row["cpu_us"] >= 0 else None
            row["errors"] = row["non2xx"] + row["connect"] + row["read"] + row["write"] + row["timeout"]
            rows.append(row)
    return rows


def ms(microseconds: int) -> str:
    return f"{microseconds / 1000:.1f}"


def cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--throttle", required=True)
    parser.add_argument("--duration", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--busy", type=int, default=0, help="% of the CPUs busy before the load started")
    args = parser.parse_args()
    rows = parse(args.results)
    by_key = {(row["endpoint"], row["connections"]): row for row in rows}

    print()
    if args.busy > 15:
        print(f"WARNING: other processes kept the CPUs {args.busy}% busy before the load: req/s and latency")
        print("are lower and noisier than on an idle machine; CPU ms/req (gunicorn workers) is steadier.")
        print()
    print(
        f"chatapp bench: GET 50 newest messages of a {args.messages:,}-message channel, gunicorn "
        f"{args.workers} sync workers, {args.duration} s per run after a {args.warmup} s warm-up"
    )
    print(f"(THROTTLE_USER raised to {args.throttle} for the bench: one session sends every request)")
    print()
    header = f"{'endpoint':<30} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
    header += f"{'requests':>9} {'errors':>6} {'max DB conns':>12} {'CPU ms/req':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{LABELS.get(row['endpoint'], row['endpoint']):<30} {row['connections']:>5} {row['rps']:>8.1f} "
            f"{ms(row['p50_us']):>8} {ms(row['p95_us']):>8} {ms(row['p99_us']):>8} {row['requests']:>9} "
            f"{row['errors']:>6} {row['max_db']:>12} {cpu(row['cpu_ms']):>10}"
        )
    print()

    verdicts = []
    connections = sorted({row["connections"] for row in rows})
    for conns in connections:
        drf, base = by_key.get(("drf", conns)), by_key.get(("baseline", conns))
        if drf and base:
            ratio = drf["rps"] / base["rps"]
            line = f"ratio DRF / baseline throughput at {conns} connections: {ratio:.2f}x"
            value = f"{ratio:.2f}x"
            if drf["cpu_ms"] and base["cpu_ms"]:
                cpu_ratio = base["cpu_ms"] / drf["cpu_ms"]
                line += f"   (CPU per request: baseline / DRF = {cpu_ratio:.2f}x)"
                value += f"; by CPU per request {cpu_ratio:.2f}x"
            print(line)
            target = f"DRF throughput >= {MIN_RATIO}x baseline at {conns} connections"
            verdicts.append((target, ratio >= MIN_RATIO, value))
    drf_p95 = by_key.get(("drf", P95_CONNECTIONS))
    if drf_p95:
        p95 = drf_p95["p95_us"] / 1000
        # Closed loop (Little's law): each connection waits for its answer, so latency ~ connections / req/s.
        needed = P95_CONNECTIONS / (MAX_P95_MS / 1000)
        value = f"{p95:.1f} ms; needs > {needed:.0f} req/s at {P95_CONNECTIONS} connections"
        value += f", got {drf_p95['rps']:.0f}"
        target = f"DRF p95 < {MAX_P95_MS:.0f} ms at {P95_CONNECTIONS} connections"
        verdicts.append((target, p95 < MAX_P95_MS, value))
    failed = [row for row in rows if row["errors"]]
    requests = sum(row["requests"] for row in rows)
    errors = "; ".join(
        f"{row['endpoint']} at {row['connections']}: {row['non2xx']} non-2xx, {row['connect']} connect, "
        f"{row['read']} read, {row['write']} write, {row['timeout']} timeout"
        for row in failed
    )
    max_db = max(row["max_db"] for row in rows)
    db_target = f"DB connections <= gunicorn workers ({args.workers})"
    verdicts.append((db_target, max_db <= args.workers, f"max {max_db}"))

    print()
    print(
        f"{'FAIL' if failed else 'PASS':<7} no errors (non-2xx or socket errors)  "
        f"[{errors or f'{requests} requests, 0 errors'}]"
    )
    for name, met, value in verdicts:
        print(f"{'PASS' if met else 'MISSED':<7} {name}  [{value}]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
