"""Reports: PDF rendering and the beat tick, our code against a baseline in the same run.

- render: a report of 8 metric charts and a 2,000-row table (500 with BENCH_QUICK=1) through render_pdf: ours
  (long tables as blocks of monospaced lines, each chunk repeating its header) against the same rows as one
  table that WeasyPrint splits across pages (the baseline); time, pages and the process's peak RSS
- tick: one beat tick with 10,000 due schedules (1,000 quick): schedules_dispatch (bulk insert under the unique
  (schedule, slot) constraint, claim token) against the naive way (one INSERT per slot in a savepoint, catching
  the IntegrityError); queueing the Celery messages is left out of both (it is the broker's cost, per message)

Uses the configured database (bench/run: PostgreSQL chatapp_bench); it adds an organization `reports-bench`
with its report and schedules, and removes its schedules and deliveries afterwards.
Targets (docs/performance.md): render <= 10 s and < 500 MB peak; tick <= 5 s.
"""

import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

from django.db import IntegrityError, transaction  # noqa: E402

from accounts.models import Organization, User  # noqa: E402
from reports import rendering, schedules  # noqa: E402
from reports.models import Delivery, Report, ReportRun, Schedule  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
ROWS = 500 if QUICK else 2000
SCHEDULES = 1000 if QUICK else 10_000
NOW = datetime(2026, 11, 25, 9, 0, 30, tzinfo=UTC)


def _sections() -> list[dict]:
    out = []
    for n in range(8):
        values = [float((i * 37 + n * 11) % 90 + 10) for i in range(30)]
        out.append({"type": "metric", "kind": "metric", "title": f"Metric {n + 1}", "data": {
            "metric": "messages_posted", "value": values[-1], "previous": values[-2], "change_pct": 4.2,
            "direction": "rising", "slope": 0.4, "flag": "", "band": [10.0, 100.0], "history": values[-8:],
            "findings": [f"Metric {n + 1} rose 4 % week over week."], "unit": "",
            "chart": {"x_labels": [f"Day {i + 1}" for i in range(30)], "values": values}}})  # fmt: skip
    rows = [[f"user{i}@example.com", f"Person {i}", "member", "2026-01-01", i % 97] for i in range(ROWS)]
    columns = ["E-mail", "Name", "Role", "Joined", "Messages"]
    out.append({"type": "members", "kind": "table", "title": "Members",
                "data": {"columns": columns, "rows": rows, "truncated": False}})  # fmt: skip
    return out


def bench_render(org) -> None:
    report = Report(organization=org, pk=1, title="Benchmark report", pdf_variant="pdf/ua-1")
    run = ReportRun(organization=org, pk=1, version=1, period_start=NOW - timedelta(days=7), period_end=NOW)
    sections = _sections()
    start = time.perf_counter()
    pdf, pages = rendering.render_pdf(report=report, run=run, sections=sections)
    ours = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Baseline: the same rows as one table split across pages by WeasyPrint.
    chunk, long_rows = rendering.TABLE_CHUNK_ROWS, rendering.LONG_TABLE_ROWS
    rendering.TABLE_CHUNK_ROWS = rendering.LONG_TABLE_ROWS = ROWS + 1
    start = time.perf_counter()
    _, base_pages = rendering.render_pdf(report=report, run=run, sections=sections)
    baseline = time.perf_counter() - start
    rendering.TABLE_CHUNK_ROWS, rendering.LONG_TABLE_ROWS = chunk, long_rows
    print(f"render  {ROWS:>6} rows, 8 charts: ours {ours:6.2f} s ({pages} pages, {len(pdf) / 1e6:.1f} MB, "
          f"peak RSS {peak_mb:.0f} MB)  one long table {baseline:6.2f} s ({base_pages} pages)  "
          f"ratio {baseline / ours:.2f}x")  # fmt: skip
    verdict = {True: "PASS", False: "MISSED"}
    print(f"  target <= 10 s: {verdict[ours <= 10]}; peak < 500 MB: {verdict[peak_mb < 500]}")


def _due_schedules(org, owner, report) -> None:
    Schedule.objects.filter(organization=org).delete()
    Schedule.objects.bulk_create(
        [Schedule(organization=org, report=report, owner=owner, frequency="daily", time_of_day=clock(9),
                  timezone="UTC", next_run_at=NOW - timedelta(seconds=30)) for _ in range(SCHEDULES)],
        batch_size=2000,
    )  # fmt: skip


def _naive_tick(now) -> int:
    created = 0
    for schedule in Schedule.objects.filter(is_paused=False, next_run_at__lte=now).select_related("report"):
        slot = schedules.last_slot_at_or_before(schedule, now, not_before=schedule.next_run_at - timedelta(seconds=1))
        try:
            with transaction.atomic():
                Delivery.objects.create(organization_id=schedule.organization_id, kind="scheduled", schedule=schedule,
                                        report_id=schedule.report_id, version=1, slot=slot)  # fmt: skip
                created += 1
        except IntegrityError:
            pass
        schedule.next_run_at = next(schedules.slots_after(schedule, now, limit=1))
        schedule.save(update_fields=["next_run_at"])
    return created


def bench_tick(org, owner, report) -> None:
    _due_schedules(org, owner, report)
    start = time.perf_counter()
    claimed = schedules.schedules_dispatch(now=NOW, enqueue=False)
    ours = time.perf_counter() - start
    assert len(claimed) == SCHEDULES, len(claimed)
    Delivery.objects.filter(organization=org).delete()
    _due_schedules(org, owner, report)
    start = time.perf_counter()
    created = _naive_tick(NOW)
    baseline = time.perf_counter() - start
    assert created == SCHEDULES
    print(
        f"tick    {SCHEDULES:>6} due schedules: ours {ours:6.2f} s  one insert per slot {baseline:6.2f} s  "
        f"ratio {baseline / ours:.2f}x  target <= 5 s: {'PASS' if ours <= 5 else 'MISSED'}"
    )
    Delivery.objects.filter(organization=org).delete()
    Schedule.objects.filter(organization=org).delete()


def main() -> int:
    org, _ = Organization.objects.get_or_create(slug="reports-bench", defaults={"name": "Reports bench"})
    owner, _ = User.objects.get_or_create(email="reports-bench@example.com")
    report = Report.objects.filter(organization=org).first() or Report.objects.create(organization=org, title="Bench")
    print("reports bench (2 vCPUs, shared and busy machine)" + (" [quick]" if QUICK else ""))
    bench_render(org)
    bench_tick(org, owner, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
