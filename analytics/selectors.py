"""Analytics reads. All of them read rollups (RollupCount), never raw events, and are org-scoped: `org=None`
means instance-wide and is only reachable from the operator's endpoints. Kept in this one module so that they can
be routed to a read replica (they tolerate a few seconds of lag).
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncMonth, TruncWeek
from django.utils import timezone

from analytics import features as feature_catalogue
from analytics import stats
from analytics.metrics import MetricInputError
from analytics.models import Dashboard, RollupCount, Tile
from analytics.timeseries import LABEL_FORMATS, TimeSeries, bucket_start, buckets, next_bucket
from analytics.tracking import person_of

_TRUNC = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def _trunc(interval: str):
    return _TRUNC[interval]("bucket", tzinfo=UTC)


def _rows(stat_key: str, org, start: datetime, end: datetime, *, instance_rows: bool = False):
    """Rollup rows of a stat in [start, end) for one organization, or every organization (org=None), or the
    instance-wide rows of a derived stat (instance_rows)."""
    rows = RollupCount.objects.filter(stat=stat_key, bucket__gte=start, bucket__lt=end).order_by()
    if org is not None:
        return rows.filter(organization=org)
    return rows.filter(organization=None) if instance_rows else rows.exclude(organization=None)


def _norm(moment: datetime, interval: str) -> datetime:
    return bucket_start(moment if moment.tzinfo else moment.replace(tzinfo=UTC), interval)


def _series_from(grouped, bucket_list, interval, name_of=lambda subgroup: subgroup) -> dict[str, list]:
    """{name: values} from (bucket, subgroup, value) rows, summing rows that fall in the same interval bucket."""
    index = {b: i for i, b in enumerate(bucket_list)}
    out: dict[str, list] = {}
    for bucket, subgroup, value in grouped:
        i = index.get(_norm(bucket, interval))
        if i is None:
            continue
        name = name_of(subgroup)
        out.setdefault(name, [0] * len(bucket_list))[i] += value
    return out or {"": [0] * len(bucket_list)}


def team_persons(org, team_id) -> list[int]:
    """Person numbers of the members of a team and of its sub-teams."""
    from rbac.models import Team, TeamMember

    if org is None:
        raise MetricInputError("filters", "The team filter needs an organization.")
    tree = dict(Team.objects.filter(organization=org).values_list("id", "parent_id"))
    try:
        team_id = int(team_id)
    except (TypeError, ValueError):
        raise MetricInputError("filters", "team must be a team id.") from None
    if team_id not in tree:
        raise MetricInputError("filters", "No such team in this organization.")
    wanted, changed = {team_id}, True
    while changed:
        grown = wanted | {child for child, parent in tree.items() if parent in wanted}
        changed, wanted = grown != wanted, grown
    users = TeamMember.objects.filter(organization=org, team_id__in=wanted).values_list("user_id", flat=True)
    return sorted({person_of(user_id) for user_id in users})


def _no_hour(interval: str, why: str) -> None:
    if interval == "hour":
        raise MetricInputError("interval", f"{why} is counted per day: use interval day, week or month.")


def _person_event_counts(org, start, end, interval, names, persons, by_name: bool) -> TimeSeries:
    _no_hour(interval, "A team's activity")
    bucket_list = buckets(start, end, interval)
    rows = _rows("person_events:day", org, bucket_list[0], end).filter(subgroup__in=names, object_id__in=persons)
    keys = ["b", "subgroup"] if by_name else ["b"]
    grouped = rows.annotate(b=_trunc(interval)).values(*keys).annotate(v=Sum("value")).values_list(*keys, "v")
    triples = ((r[0], r[1], r[2]) if by_name else (r[0], "", r[1]) for r in grouped)
    return TimeSeries.over(bucket_list, interval, _series_from(triples, bucket_list, interval))


def _count_series(stat_key, org, start, end, interval, *, subgroups=None, by_subgroup=False, name_of=None):
    stat = stats.catalogue[stat_key]
    if stat.frequency == "day":
        _no_hour(interval, stat.title)
    bucket_list = buckets(start, end, interval)
    rows = _rows(stat_key, org, bucket_list[0], end)
    if subgroups is not None:
        rows = rows.filter(subgroup__in=subgroups)
    keys = ["b", "subgroup"] if by_subgroup else ["b"]
    grouped = rows.annotate(b=_trunc(interval)).values(*keys).annotate(v=Sum("value")).values_list(*keys, "v")
    triples = ((r[0], r[1], r[2]) if by_subgroup else (r[0], "", r[1]) for r in grouped)
    return TimeSeries.over(bucket_list, interval, _series_from(triples, bucket_list, interval, name_of or str))


# --- counts ---------------------------------------------------------------------------------------------------


def events_series(*, org, start, end, interval, breakdown, filters):
    subgroups = [filters["event"]] if "event" in filters else None
    return _count_series("events:hour", org, start, end, interval, subgroups=subgroups, by_subgroup=bool(breakdown))


def event_count_series(names: tuple[str, ...]):
    def series(*, org, start, end, interval, breakdown, filters):
        if "team" in filters:
            persons = team_persons(org, filters["team"])
            return _person_event_counts(org, start, end, interval, names, persons, by_name=bool(breakdown))
        return _count_series("events:hour", org, start, end, interval, subgroups=list(names),
                             by_subgroup=bool(breakdown))  # fmt: skip

    return series


def messages_series(*, org, start, end, interval, breakdown, filters):
    if "team" in filters:
        if breakdown or set(filters) - {"team"}:
            raise MetricInputError("breakdown", "Messages of a team cannot be broken down or filtered further.")
        persons = team_persons(org, filters["team"])
        return _person_event_counts(org, start, end, interval, ["message.posted"], persons, by_name=False)
    if breakdown == "channel" or "channel" in filters:
        from chatapp.chat.models import Channel

        _no_hour(interval, "Messages per channel")
        bucket_list = buckets(start, end, interval)
        rows = _rows("messages_in_channel:day", org, bucket_list[0], end)
        if "channel" in filters:
            rows = rows.filter(object_id=filters["channel"])
        grouped = list(
            rows.annotate(b=_trunc(interval)).values("b", "object_id").annotate(v=Sum("value"))
            .values_list("b", "object_id", "v")
        )  # fmt: skip
        channel_ids = {object_id for _, object_id, _ in grouped}
        names = dict(Channel.objects.filter(organization=org, pk__in=channel_ids).values_list("pk", "name")) if org \
            else {}  # fmt: skip
        if breakdown != "channel":
            grouped = [(b, "", v) for b, _, v in grouped]
        series = _series_from(grouped, bucket_list, interval, lambda cid: names.get(cid, f"#{cid}") if cid else "")
        if len(series) > 10:  # the ten busiest channels, the rest as "other"
            ranked = sorted(series, key=lambda name: -sum(series[name]))
            other = [sum(vals) for vals in zip(*(series[name] for name in ranked[10:]), strict=True)]
            series = {name: series[name] for name in ranked[:10]} | {"other": other}
        return TimeSeries.over(bucket_list, interval, series)
    subgroups = [filters["client"]] if "client" in filters else None
    return _count_series("messages_sent:client:hour", org, start, end, interval, subgroups=subgroups,
                         by_subgroup=breakdown == "client")  # fmt: skip


# --- people ---------------------------------------------------------------------------------------------------


def _distinct_people_by_bucket(org, start, end, interval, persons=None, subgroups=None) -> TimeSeries:
    """Exact distinct people per interval bucket from the per-person daily rows (teams, calendar weeks/months)."""
    _no_hour(interval, "Active people")
    bucket_list = buckets(start, end, interval)
    rows = _rows("person_events:day", org, bucket_list[0], end)
    if persons is not None:
        rows = rows.filter(object_id__in=persons)
    if subgroups is not None:
        rows = rows.filter(subgroup__in=subgroups)
    grouped = rows.annotate(b=_trunc(interval)).values("b").annotate(n=Count("object_id", distinct=True))
    triples = ((b, "", n) for b, n in grouped.values_list("b", "n"))
    return TimeSeries.over(bucket_list, interval, _series_from(triples, bucket_list, interval))


def active_users_series(*, org, start, end, interval, breakdown, filters):
    if "team" in filters:
        if breakdown or "client" in filters:
            raise MetricInputError("breakdown", "Active people of a team cannot be split by client.")
        return _distinct_people_by_bucket(org, start, end, interval, persons=team_persons(org, filters["team"]))
    if interval in ("week", "month"):
        if breakdown or "client" in filters:
            raise MetricInputError("breakdown", "Active people by client are counted per day: use interval day.")
        return _distinct_people_by_bucket(org, start, end, interval)  # exact calendar weeks and months
    _no_hour(interval, "Active people")
    by_client = breakdown == "client" or "client" in filters
    key = "active_users:client:day" if by_client else "active_users:day"
    bucket_list = buckets(start, end, interval)
    rows = _rows(key, org, bucket_list[0], end, instance_rows=org is None)
    if "client" in filters:
        rows = rows.filter(subgroup=filters["client"])
    triples = rows.values_list("bucket", "subgroup" if breakdown == "client" else "stat", "value")
    if breakdown != "client":
        triples = ((b, "", v) for b, _, v in triples)
    return TimeSeries.over(bucket_list, interval, _series_from(triples, bucket_list, interval))


def _level_at_end(stat_key, org, start, end, interval) -> TimeSeries:
    """A level stat (WAU, MAU) read at the last day of each interval bucket that has a value."""
    bucket_list = buckets(start, end, interval)
    rows = _rows(stat_key, org, bucket_list[0], end, instance_rows=org is None).values_list("bucket", "value")
    latest: dict[datetime, tuple[datetime, int]] = {}
    for bucket, value in rows:
        key = _norm(bucket, interval)
        if key not in latest or latest[key][0] < bucket:
            latest[key] = (bucket, value)
    values = [latest[b][1] if b in latest else 0 for b in bucket_list]
    return TimeSeries.over(bucket_list, interval, {"": values})


def window_series(days: int):
    stat_key = {7: "active_users_7d:day", 30: "active_users_30d:day"}[days]

    def series(*, org, start, end, interval, breakdown, filters):
        if "team" not in filters:
            return _level_at_end(stat_key, org, start, end, "day")
        persons = team_persons(org, filters["team"])
        bucket_list = buckets(start, end, "day")
        pairs = _rows("person_events:day", org, bucket_list[0] - timedelta(days=days - 1), end)
        pairs = pairs.filter(object_id__in=persons).values_list("bucket", "object_id").distinct()
        by_day: dict[datetime, set] = defaultdict(set)
        for bucket, person in pairs:
            by_day[_norm(bucket, "day")].add(person)
        values = []
        for day in bucket_list:
            seen: set = set()
            for offset in range(days):
                seen |= by_day.get(day - timedelta(days=offset), set())
            values.append(len(seen))
        return TimeSeries.over(bucket_list, "day", {"": values})

    return series


def stickiness_series(*, org, start, end, interval, breakdown, filters):
    dau = _level_at_end("active_users:day", org, start, end, "day").series[""]
    mau = _level_at_end("active_users_30d:day", org, start, end, "day")
    values = [round(100 * d / m, 1) if m else None for d, m in zip(dau, mau.series[""], strict=True)]
    return TimeSeries.over(mau.buckets, "day", {"": values}, unit="%")


def _first_seen(org, end, persons=None) -> dict[int, datetime]:
    rows = RollupCount.objects.filter(stat="person_events:day", bucket__lt=end).order_by()
    rows = rows.filter(organization=org) if org is not None else rows.exclude(organization=None)
    if persons is not None:
        rows = rows.filter(object_id__in=persons)
    return dict(rows.values("object_id").annotate(first=Min("bucket")).values_list("object_id", "first"))


def _activity(org, start, end, interval, persons=None) -> dict[datetime, set[int]]:
    rows = _rows("person_events:day", org, start, end)
    if persons is not None:
        rows = rows.filter(object_id__in=persons)
    active: dict[datetime, set[int]] = defaultdict(set)
    for bucket, person in rows.annotate(b=_trunc(interval)).values_list("b", "object_id").distinct():
        active[_norm(bucket, interval)].add(person)
    return active


def lifecycle_series(*, org, start, end, interval, breakdown, filters):
    """PostHog's lifecycle: of the people active in each bucket, who is new (first seen in it), returning
    (active in the bucket before too), resurrected (seen before, but not in the bucket before); and dormant
    (active in the bucket before, not in this one), shown negative."""
    persons = team_persons(org, filters["team"]) if "team" in filters else None
    bucket_list = buckets(start, end, interval)
    previous_start = bucket_start(bucket_list[0] - timedelta(days=1), interval)
    first = _first_seen(org, end, persons)
    active = _activity(org, previous_start, end, interval, persons)
    out = {"new": [], "returning": [], "resurrected": [], "dormant": []}
    prev_bucket = previous_start
    for bucket in bucket_list:
        now_active, before = active.get(bucket, set()), active.get(prev_bucket, set())
        new = {p for p in now_active if _norm(first.get(p, bucket), interval) == bucket}
        out["new"].append(len(new))
        out["returning"].append(len((now_active & before) - new))
        out["resurrected"].append(len(now_active - before - new))
        out["dormant"].append(-len(before - now_active))
        prev_bucket = bucket
    return TimeSeries.over(bucket_list, interval, out)


def retention_table(org, start, end, persons=None) -> dict:
    """Weekly cohorts (people first seen in each week of [start, end)) and the share of each still active in
    the weeks after. Weeks that have not happened yet are None."""
    weeks = buckets(start, end, "week")
    first = _first_seen(org, end, persons)
    active = _activity(org, weeks[0], end, "week", persons)
    cohorts = []
    for i, week in enumerate(weeks):
        members = {p for p, seen in first.items() if _norm(seen, "week") == week}
        shares = []
        for k in range(len(weeks)):
            if i + k >= len(weeks):
                shares.append(None)
                continue
            kept = len(members & active.get(weeks[i + k], set()))
            shares.append(round(100 * kept / len(members), 1) if members else None)
        cohorts.append({"week": week, "size": len(members), "retention": shares, "people": [
            len(members & active.get(weeks[i + k], set())) if i + k < len(weeks) else None for k in range(len(weeks))
        ]})  # fmt: skip
    return {"weeks": weeks, "cohorts": cohorts}


def retention_series(*, org, start, end, interval, breakdown, filters):
    persons = team_persons(org, filters["team"]) if "team" in filters else None
    table = retention_table(org, start, end, persons)
    labels = [f"Week {k}" for k in range(len(table["weeks"]))]
    series = {f"{c['week'].strftime(LABEL_FORMATS['week'])} ({c['size']})": c["retention"] for c in table["cohorts"]}
    return TimeSeries(labels, series, [], "%", {"cohort_sizes": [c["size"] for c in table["cohorts"]]})


# --- features -------------------------------------------------------------------------------------------------


def _adoption_rows(org, start, end, persons=None):
    rows = _rows("person_events:day", org, start, end)
    if persons is not None:
        rows = rows.filter(object_id__in=persons)
    counts = {"active": Count("object_id", distinct=True)}
    for feature in feature_catalogue.catalogue:
        counts[f"f_{feature.key}"] = Count("object_id", distinct=True, filter=Q(subgroup__in=feature.events))
    return rows, counts


def _shares(row: dict) -> dict[str, float | None]:
    active = row["active"]
    return {
        f.key: (round(100 * row[f"f_{f.key}"] / active, 1) if active else None) for f in feature_catalogue.catalogue
    }


def _score(shares: dict[str, float | None]) -> float | None:
    core = [shares[f.key] for f in feature_catalogue.catalogue if f.core and shares[f.key] is not None]
    return round(sum(core) / len(core), 1) if core else None


def adoption_series(*, org, start, end, interval, breakdown, filters):
    _no_hour(interval, "Feature adoption")
    if "feature" in filters and filters["feature"] not in feature_catalogue.catalogue:
        raise MetricInputError("filters", f"Unknown feature {filters['feature']!r}.")
    persons = team_persons(org, filters["team"]) if "team" in filters else None
    bucket_list = buckets(start, end, interval)
    rows, counts = _adoption_rows(org, bucket_list[0], end, persons)
    by_bucket = {_norm(r["b"], interval): _shares(r) for r in rows.annotate(b=_trunc(interval)).values("b")
                 .annotate(**counts)}  # fmt: skip
    empty = dict.fromkeys((f.key for f in feature_catalogue.catalogue), None)
    shares = [by_bucket.get(b, empty) for b in bucket_list]
    if "feature" in filters:
        series = {feature_catalogue.catalogue[filters["feature"]].title: [s[filters["feature"]] for s in shares]}
    elif breakdown == "feature":
        series = {f.title: [s[f.key] for s in shares] for f in feature_catalogue.catalogue}
    else:
        series = {"": [_score(s) for s in shares]}
    return TimeSeries.over(bucket_list, interval, series, unit="%")


def features_adoption(*, org, start: datetime, end: datetime, team=None) -> dict:
    """Each feature's adoption over the period (share of the period's active people who used it), its weekly
    trend, and the headline score (mean over core features) against the 90 % target."""
    persons = team_persons(org, team) if team else None
    rows, counts = _adoption_rows(org, start, end, persons)
    totals = rows.aggregate(**counts)
    shares = _shares(totals)
    trend = adoption_series(org=org, start=start, end=end, interval="week", breakdown="",
                            filters={"team": team} if team else {})  # fmt: skip
    weekly_rows, weekly_counts = _adoption_rows(org, buckets(start, end, "week")[0], end, persons)
    weekly = {
        _norm(r["b"], "week"): _shares(r)
        for r in weekly_rows.annotate(b=_trunc("week")).values("b").annotate(**weekly_counts)
    }
    target = feature_catalogue.ADOPTION_TARGET * 100
    return {
        "active_people": totals["active"],
        "target": target,
        "score": _score(shares),
        "meets_target": (_score(shares) or 0) >= target,
        "trend": {"labels": trend.labels, "values": trend.series[""]},
        "features": [
            {
                "key": f.key, "title": f.title, "core": f.core, "events": list(f.events),
                "people": totals[f"f_{f.key}"], "adoption": shares[f.key],
                "meets_target": (shares[f.key] or 0) >= target,
                "trend": [weekly.get(b, {}).get(f.key) for b in trend.buckets],
            }
            for f in feature_catalogue.catalogue
        ],
    }  # fmt: skip


def users_summary(*, org, as_of: datetime | None = None) -> dict:
    """DAU, WAU, MAU and stickiness on the latest day, and the last four weeks' lifecycle."""
    as_of = as_of or timezone.now()
    day = _norm(as_of, "day")
    levels = dict(
        RollupCount.objects.filter(
            stat__in=("active_users:day", "active_users_7d:day", "active_users_30d:day"), bucket=day,
            **({"organization": org} if org is not None else {"organization": None}),
        ).values_list("stat", "value")
    )  # fmt: skip
    dau, wau, mau = (levels.get(k, 0) for k in ("active_users:day", "active_users_7d:day", "active_users_30d:day"))
    start = _norm(as_of - timedelta(weeks=3), "week")
    lifecycle = lifecycle_series(org=org, start=start, end=next_bucket(day, "day"), interval="week", breakdown="",
                                 filters={})  # fmt: skip
    return {
        "day": day.date().isoformat(),
        "dau": dau, "wau": wau, "mau": mau,
        "stickiness": round(100 * dau / mau, 1) if mau else None,
        "lifecycle": {"weeks": [b.date().isoformat() for b in lifecycle.buckets], **lifecycle.series},
    }  # fmt: skip


# --- dashboards -----------------------------------------------------------------------------------------------


def dashboards_visible(*, user, org):
    """The dashboards the user may see: all of them with `dashboards.view` org-wide, else those granted."""
    from analytics.permissions import DASHBOARDS_VIEW
    from rbac.services import visible

    return visible(user=user, org=org, perm=DASHBOARDS_VIEW, queryset=Dashboard.objects.all())


def dashboard_tiles(*, dashboard: Dashboard):
    return Tile.objects.filter(organization_id=dashboard.organization_id, dashboard=dashboard).order_by(
        "position", "id"
    )
