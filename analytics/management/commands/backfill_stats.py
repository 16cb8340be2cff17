"""Recompute analytics rollups for a time range (after a bug fix in a stat, or to re-count late data)."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from analytics import audit_events as events
from analytics.stats import backfill, fill_all
from audit.services import Actor, audit_record


def _day(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if "T" in value or ":" in value else \
            datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)  # fmt: skip
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD) or ISO date-time") from None


class Command(BaseCommand):
    help = "Recompute the rollups of some or all stats between --start and --end (UTC), then fill up to now."

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, help="YYYY-MM-DD or an ISO date-time (UTC)")
        parser.add_argument("--end", help="default: now")
        parser.add_argument("--stat", action="append", dest="stats", help="a stat key (repeatable); default: all")
        parser.add_argument(
            "--force",
            action="store_true",
            help="recompute even before the raw-event retention horizon (erases those rollups)",
        )

    def handle(self, *args, start, end, stats, force, **options):
        start = _day(start)
        end = _day(end) if end else timezone.now()
        if end <= start:
            raise CommandError("--end must be after --start")
        horizon = timezone.now() - timedelta(days=settings.ANALYTICS_RETENTION_DAYS)
        if start < horizon and not force:
            raise CommandError(
                f"raw events before {horizon:%Y-%m-%d} are gone (ANALYTICS_RETENTION_DAYS); recomputing them would "
                "replace their rollups with zeros. Start later, or pass --force if that is what you want."
            )
        fill_all()  # fill states exist and are current before recomputing behind them
        last = {}

        def progress(stat, bucket):
            if last.get(stat.key) != bucket.date():
                last[stat.key] = bucket.date()
                self.stdout.write(f"  {stat.key}: {bucket:%Y-%m-%d}")

        try:
            done = backfill(start=start, end=end, keys=stats, progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        with transaction.atomic():
            audit_record(org=None, event=events.STATS_BACKFILLED, actor=Actor.system("backfill_stats"),
                         metadata={"start": start.isoformat(), "end": end.isoformat(), "buckets": done})  # fmt: skip
        for key, count in done.items():
            self.stdout.write(f"{key}: {count} bucket(s) recomputed")
        self.stdout.write(self.style.SUCCESS("done"))
