"""Stats declared in code and the engine that fills them (Zulip's CountStat, made crash-safe by transactions).

A stat is a named series of RollupCount rows at one frequency (hour or day) and one dimension: the organization,
a channel or a person (object_id = the pseudonymous person number), optionally split by a subgroup (client, event
name). Most stats count raw events; derived ones (active users over 1, 7 and 30 days) are computed from the rows
of another stat, so they never scan raw events.

`fill_all()` (Celery beat, every few minutes) brings every stat up to date:

1. buckets already filled that received *late* events since the last pass are recomputed;
2. each complete bucket after the fill state is written: delete the bucket's rows, insert the new ones and
   advance the fill state, in one transaction under a lock on the stat's FillState row. A crash (or a kill)
   leaves the stat at the last complete bucket; running again continues from there and counts nothing twice;
   running again with nothing new does nothing;
3. the open bucket (the current hour or day) is written without advancing, so today shows on dashboards; the
   next pass rewrites it.

Dashboards and the API read RollupCount only (analytics.selectors).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from chatapp.kernel.registry import Registry

HOUR, DAY = "hour", "day"
STEP = {HOUR: timedelta(hours=1), DAY: timedelta(days=1)}

# (organization_id or None for instance-wide, object_id, subgroup, value)
Row = tuple[int | None, int, str, int]


@dataclass(frozen=True)
class Stat:
    key: str
    title: str
    frequency: str
    dimension: str  # "org", "channel", "person" (per organization) or "instance"
    compute: Callable[[datetime, datetime], Iterable[Row]] = field(compare=False, repr=False)
    description: str = ""
    subgroup: str = ""  # what the subgroup holds, for the docs ("client", "event name")
    names: tuple[str, ...] = ()  # raw events it counts (empty: all); derived stats read `source` instead
    source: str = ""  # the stat a derived stat is computed from
    window_days: int = 1  # a derived stat's bucket reads this many days of its source

    @property
    def step(self) -> timedelta:
        return STEP[self.frequency]


catalogue: Registry[Stat] = Registry("stat")
ORDER: list[str] = []  # declaration order: sources before the stats derived from them


def _register(stat: Stat) -> Stat:
    if stat.source and stat.source not in catalogue:
        raise ValueError(f"stat {stat.key!r} derives from {stat.source!r}, which must be declared first")
    catalogue.register(stat)
    ORDER.append(stat.key)
    return stat


def floor(moment: datetime, frequency: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if frequency == DAY else moment


def count_events(
    key: str,
    title: str,
    *,
    frequency: str,
    dimension: str = "org",
    names: tuple[str, ...] = (),
    subgroup: str = "",
    description: str = "",
) -> Stat:
    """Declare a stat that counts raw events per bucket (and per channel or person, and per subgroup)."""
    from analytics.models import Event

    object_field = {"org": None, "channel": "channel_id", "person": "person"}[dimension]
    subgroup_field = {"": None, "client": "client", "event name": "name"}[subgroup]

    def compute(start: datetime, end: datetime) -> Iterable[Row]:
        events = Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        if names:
            events = events.filter(name__in=names)
        if dimension == "channel":
            events = events.exclude(channel_id=None)
        elif dimension == "person":
            events = events.exclude(person=0)
        fields = ["organization_id", *(f for f in (object_field, subgroup_field) if f)]
        for row in events.order_by().values(*fields).annotate(n=Count("id")).values_list(*fields, "n"):
            values = dict(zip(fields, row, strict=False))
            yield (row[0], values.get(object_field, 0) or 0, values.get(subgroup_field, "") or "", row[-1])

    return _register(Stat(key, title, frequency, dimension, compute, description, subgroup, tuple(names)))


def distinct_people(key: str, title: str, *, source: str, window_days: int, description: str = "") -> Stat:
    """Declare a daily stat of distinct people over the last `window_days` days, per organization and per
    subgroup of the source, plus instance-wide rows (organization None), computed from a per-person stat."""
    from analytics.models import RollupCount

    source_stat = catalogue[source]

    def compute(start: datetime, end: datetime) -> Iterable[Row]:
        rows = RollupCount.objects.filter(stat=source, bucket__gte=start - timedelta(days=window_days - 1))
        rows = rows.filter(bucket__lt=end).order_by()
        by_subgroup = bool(source_stat.subgroup) and source_stat.subgroup != "event name"
        keys = ["organization_id", "subgroup"] if by_subgroup else ["organization_id"]
        for row in rows.values(*keys).annotate(n=Count("object_id", distinct=True)).values_list(*keys, "n"):
            yield (row[0], 0, row[1] if by_subgroup else "", row[-1])
        instance_keys = ["subgroup"] if by_subgroup else []
        if instance_keys:
            for subgroup, n in (
                rows.values("subgroup").annotate(n=Count("object_id", distinct=True)).values_list("subgroup", "n")
            ):
                yield (None, 0, subgroup, n)
        else:
            n = rows.aggregate(n=Count("object_id", distinct=True))["n"]
            if n:
                yield (None, 0, "", n)

    subgroup = "client" if source_stat.subgroup == "client" else ""
    return _register(Stat(key, title, DAY, "org", compute, description, subgroup, (), source, window_days))


# --- the catalogue --------------------------------------------------------------------------------------------

EVENTS_HOURLY = count_events(
    "events:hour", "Events", frequency=HOUR, subgroup="event name",
    description="Every event (server, API and PostHog clients) per organization and hour, by event name.",
)  # fmt: skip
MESSAGES_HOURLY = count_events(
    "messages_sent:client:hour", "Messages sent", frequency=HOUR, names=("message.posted",), subgroup="client",
    description="Messages posted per organization and hour, by client (web, mobile, api, server).",
)  # fmt: skip
MESSAGES_BY_CHANNEL = count_events(
    "messages_in_channel:day", "Messages per channel", frequency=DAY, dimension="channel",
    names=("message.posted",), description="Messages posted per channel and day.",
)  # fmt: skip
PERSON_EVENTS = count_events(
    "person_events:day", "Events per person", frequency=DAY, dimension="person", subgroup="event name",
    description="Events per person and day, by event name: the base of active users, teams, features, retention.",
)  # fmt: skip
PERSON_CLIENTS = count_events(
    "person_clients:day", "Events per person and client", frequency=DAY, dimension="person", subgroup="client",
    description="Events per person, day and client: the base of active users by client.",
)  # fmt: skip
ACTIVE_1D = distinct_people(
    "active_users:day", "Daily active users", source="person_events:day", window_days=1,
    description="People with at least one event that day (per organization, and instance-wide).",
)  # fmt: skip
ACTIVE_7D = distinct_people(
    "active_users_7d:day", "Weekly active users", source="person_events:day", window_days=7,
    description="People with at least one event in the 7 days ending that day.",
)  # fmt: skip
ACTIVE_30D = distinct_people(
    "active_users_30d:day", "Monthly active users", source="person_events:day", window_days=30,
    description="People with at least one event in the 30 days ending that day.",
)  # fmt: skip
ACTIVE_BY_CLIENT = distinct_people(
    "active_users:client:day", "Daily active users by client", source="person_clients:day", window_days=1,
    description="People active that day on each client.",
)  # fmt: skip


# --- the engine -----------------------------------------------------------------------------------------------


def _first_bucket(stat: Stat, now: datetime) -> datetime:
    from analytics.models import Event

    first = Event.objects.aggregate(first=Min("occurred_at"))["first"]
    return floor(first or now, stat.frequency)


def _state(stat: Stat, now: datetime):
    from analytics.models import FillState

    state = FillState.objects.filter(stat=stat.key).first()
    if state is None:
        state, _ = FillState.objects.get_or_create(
            stat=stat.key, defaults={"filled_until": _first_bucket(stat, now), "late_since": now}
        )
    return state


def _write_bucket(stat: Stat, bucket: datetime, *, advance: bool) -> bool:
    """Recompute one bucket in one transaction; with `advance`, only if it is the next one and move the state on.
    Returns whether it was written."""
    from analytics.models import FillState, RollupCount

    with transaction.atomic():
        state = FillState.objects.select_for_update().get(stat=stat.key)  # one writer per stat at a time
        if advance and state.filled_until != bucket:
            return False  # another worker wrote it meanwhile
        RollupCount.objects.filter(stat=stat.key, bucket=bucket).delete()
        RollupCount.objects.bulk_create(
            (
                RollupCount(stat=stat.key, organization_id=org_id, object_id=object_id, subgroup=subgroup[:100],
                            bucket=bucket, value=value)
                for org_id, object_id, subgroup, value in stat.compute(bucket, bucket + stat.step)
                if value
            ),
            batch_size=5000,
        )  # fmt: skip
        if advance:
            FillState.objects.filter(stat=stat.key).update(
                filled_until=bucket + stat.step, state=FillState.State.RUNNING, updated=timezone.now()
            )
    return True


def _late_buckets(stat: Stat, state, dirty_sources: set[datetime]) -> set[datetime]:
    """Buckets before the fill state whose input changed since the last pass."""
    from analytics.models import Event

    if stat.source:
        return {
            floor(day, DAY) + timedelta(days=offset)
            for day in dirty_sources
            for offset in range(stat.window_days)
            if floor(day, DAY) + timedelta(days=offset) < state.filled_until
        }
    late = Event.objects.filter(received_at__gte=state.late_since, occurred_at__lt=state.filled_until)
    if stat.names:
        late = late.filter(name__in=stat.names)
    trunc = TruncHour if stat.frequency == HOUR else TruncDay
    buckets = late.order_by().annotate(b=trunc("occurred_at", tzinfo=UTC)).values_list("b", flat=True).distinct()
    return {floor(b, stat.frequency) for b in buckets}


def fill_stat(
    stat: Stat | str,
    *,
    now: datetime | None = None,
    until: datetime | None = None,
    dirty_sources: set[datetime] = frozenset(),
    progress: Callable[[Stat, datetime], None] | None = None,
) -> set[datetime]:
    """Bring one stat up to `until` (default: now). Returns the buckets written, for the stats derived from it."""
    from analytics.models import FillState

    stat = catalogue[stat] if isinstance(stat, str) else stat
    started = timezone.now()
    now = now or started
    state = _state(stat, now)
    limit = floor(until or now, stat.frequency)
    if stat.source:  # a derived stat goes no further than its source
        limit = min(limit, floor(_state(catalogue[stat.source], now).filled_until, stat.frequency))
    written: set[datetime] = set()
    for bucket in sorted(_late_buckets(stat, state, set(dirty_sources))):
        _write_bucket(stat, bucket, advance=False)
        written.add(bucket)
    bucket = FillState.objects.get(stat=stat.key).filled_until
    while bucket + stat.step <= limit:
        _write_bucket(stat, bucket, advance=True)
        written.add(bucket)
        if progress:
            progress(stat, bucket)
        bucket += stat.step
    if until is None and bucket <= now:
        _write_bucket(stat, bucket, advance=False)  # the open bucket, rewritten at every pass
        written.add(bucket)
    margin = timedelta(seconds=settings.ANALYTICS_LATE_MARGIN_SECONDS)
    FillState.objects.filter(stat=stat.key).update(
        state=FillState.State.DONE, late_since=started - margin, updated=timezone.now()
    )
    return written


def fill_all(*, now: datetime | None = None, progress=None) -> dict[str, int]:
    """Fill every stat, sources first. Returns how many buckets each stat wrote."""
    written: dict[str, set[datetime]] = {}
    for key in ORDER:
        stat = catalogue[key]
        dirty = written.get(stat.source, set()) if stat.source else set()
        written[key] = fill_stat(stat, now=now, dirty_sources=dirty, progress=progress)
    return {key: len(buckets) for key, buckets in written.items()}


def backfill(*, start: datetime, end: datetime, keys: Iterable[str] | None = None, progress=None) -> dict[str, int]:
    """Recompute every bucket of the given stats (default all) between start and end, sources first.

    Buckets after a stat's fill state are left to the normal fill. Raw events older than the retention period
    are gone, so recomputing those buckets would erase history: the caller must not ask for them.
    """
    from analytics.models import FillState

    wanted = set(keys or ORDER)
    unknown = wanted - set(ORDER)
    if unknown:
        raise ValueError(f"unknown stat(s): {', '.join(sorted(unknown))}")
    done = {}
    for key in ORDER:
        if key not in wanted:
            continue
        stat = catalogue[key]
        _state(stat, timezone.now())
        bucket, count = floor(start, stat.frequency), 0
        stop = min(end, FillState.objects.get(stat=key).filled_until)
        while bucket < stop:
            _write_bucket(stat, bucket, advance=False)
            count += 1
            if progress:
                progress(stat, bucket)
            bucket += stat.step
        done[key] = count
    return done
