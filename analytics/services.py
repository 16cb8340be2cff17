"""Every analytics write: storing events, ingestion keys, settings, erasure, retention, dashboards and tiles.

Keyword-only, permission checked through rbac, audited in the same transaction (events themselves are not
audited: they are the product's usage data, not changes).
"""

import hashlib
import json
import secrets
import uuid as uuid_lib
from datetime import UTC, datetime, timedelta

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Organization, User
from analytics import audit_events as events
from analytics.metrics import FILTERS, MetricInputError
from analytics.metrics import catalogue as metric_catalogue
from analytics.models import AnalyticsSettings, Client, Dashboard, Event, IngestKey, RollupCount, Tile
from analytics.permissions import ANALYTICS_MANAGE, DASHBOARDS_EDIT, DASHBOARDS_VIEW
from analytics.tracking import RECORDED, person_of, person_of_distinct_id, truncate_ip
from audit.services import Actor, Target, audit_record, diff, snapshot
from rbac.services import has_perm, require_perm

logger = structlog.get_logger(__name__)

MAX_BATCH = 1000
MAX_PROPERTIES_BYTES = 16_384
NAME_MAX = 100
FUTURE_SKEW = timedelta(hours=24)
# Never stored: addresses are truncated from the request, keys are credentials, $set carries profile data.
DROPPED_PROPERTIES = frozenset({"$ip", "token", "api_key", "$set", "$set_once", "$unset", "email", "$email"})


# --- events ---------------------------------------------------------------------------------------------------


def events_store(*, rows, source: str) -> int:
    """Write buffered or validated events in bulk; events of organizations that opted out are dropped, and a
    uuid already stored (a client retry) is ignored. Rows: (org_id, name, occurred_at, person, channel_id,
    client, ip, properties[, uuid])."""
    org_ids = {row[0] for row in rows}
    # An organization deleted or suspended since the event was buffered gets nothing.
    live = set(Organization.objects.filter(pk__in=org_ids, is_active=True).values_list("pk", flat=True))
    opted_out = org_ids - live
    opted_out |= set(
        AnalyticsSettings.objects.filter(organization_id__in=org_ids, enabled=False).values_list(
            "organization_id", flat=True
        )
    )
    received = timezone.now()
    objects = [
        Event(organization_id=row[0], name=row[1], occurred_at=row[2], received_at=received, person=row[3],
              channel_id=row[4], client=row[5], ip=row[6], properties=row[7], source=source,
              uuid=row[8] if len(row) > 8 and row[8] else uuid_lib.uuid4())
        for row in rows
        if row[0] not in opted_out
    ]  # fmt: skip
    if objects:
        Event.objects.bulk_create(objects, batch_size=2000, ignore_conflicts=True)
        RECORDED.labels(source=source).inc(len(objects))
    return len(objects)


def _parse_time(value, now: datetime) -> tuple[datetime | None, str | None]:
    if value in (None, ""):
        return now, None
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        return None, "timestamp is not an ISO 8601 date and time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now + FUTURE_SKEW:
        return None, "timestamp is more than a day in the future"
    if moment < now - timedelta(days=settings.ANALYTICS_RETENTION_DAYS - 1):
        return None, f"timestamp is older than the {settings.ANALYTICS_RETENTION_DAYS}-day retention of raw events"
    return moment, None


def _clean_properties(value) -> tuple[dict | None, str | None]:
    if value is None:
        return {}, None
    if not isinstance(value, dict):
        return None, "properties must be an object"
    cleaned = {k: v for k, v in value.items() if k not in DROPPED_PROPERTIES}
    if len(json.dumps(cleaned, default=str)) > MAX_PROPERTIES_BYTES:
        return None, f"properties are larger than {MAX_PROPERTIES_BYTES} bytes"
    return cleaned, None


def event_row(item, *, org_id: int, person: int, client: str, ip: str | None, now: datetime):
    """One client event as a row for events_store, or the reason it is refused."""
    if not isinstance(item, dict):
        return None, "each event must be an object"
    name = item.get("event")
    if not isinstance(name, str) or not name.strip():
        return None, "event (the event's name) is required"
    if len(name) > NAME_MAX:
        return None, f"event is longer than {NAME_MAX} characters"
    occurred_at, problem = _parse_time(item.get("timestamp"), now)
    if problem:
        return None, problem
    properties, problem = _clean_properties(item.get("properties"))
    if problem:
        return None, problem
    raw_uuid = item.get("uuid")
    try:
        event_uuid = uuid_lib.UUID(str(raw_uuid)) if raw_uuid else None
    except ValueError:
        return None, "uuid is not a UUID"
    return (org_id, name.strip(), occurred_at, person, None, client, truncate_ip(ip), properties, event_uuid), None


def events_ingest(*, org: Organization, user: User, items, ip: str | None) -> dict:
    """The events API: each good item is stored, each bad one reported by its index with the reason."""
    if not isinstance(items, list) or not items:
        raise ValidationError({"events": ["Send a non-empty list of events."]})
    if len(items) > MAX_BATCH:
        raise ValidationError({"events": [f"Send at most {MAX_BATCH} events per request."]})
    now, person, rows, errors = timezone.now(), person_of(user.pk), [], []
    for index, item in enumerate(items):
        client = item.get("client", Client.API) if isinstance(item, dict) else Client.API
        if client not in (Client.WEB, Client.MOBILE, Client.API):
            errors.append({"index": index, "reason": "client must be web, mobile or api"})
            continue
        row, problem = event_row(item, org_id=org.pk, person=person, client=client, ip=ip, now=now)
        if problem:
            errors.append({"index": index, "reason": problem})
        else:
            rows.append(row)
    stored = events_store(rows=rows, source="api") if rows else 0
    return {"accepted": len(rows), "stored": stored, "rejected": len(errors), "errors": errors,
            "opted_out": bool(rows) and stored == 0}  # fmt: skip


def _client_of_lib(lib: str) -> str:
    lib = (lib or "").lower()
    if lib == "web" or lib.startswith("posthog-js"):
        return Client.WEB
    if any(mobile in lib for mobile in ("ios", "android", "react-native", "flutter")):
        return Client.MOBILE
    return Client.API


def posthog_ingest(*, key: IngestKey, items: list, ip: str | None) -> int:
    """Events from a PostHog SDK: stored under the key's organization, de-duplicated on uuid; bad items are
    skipped (the SDK cannot act on a per-item error and would resend the whole batch). Returns how many stored."""
    now, rows = timezone.now(), []
    for item in items[: MAX_BATCH * 10]:
        if not isinstance(item, dict):
            continue
        properties = item.get("properties") if isinstance(item.get("properties"), dict) else {}
        distinct_id = str(item.get("distinct_id") or properties.get("distinct_id") or "")[:200]
        client = _client_of_lib(str(properties.get("$lib", "")))
        row, _problem = event_row(item, org_id=key.organization_id, person=person_of_distinct_id(distinct_id),
                                 client=client, ip=ip, now=now)  # fmt: skip
        if row is not None:
            rows.append(row)
    if rows:
        events_store(rows=rows, source="posthog")
    if key.last_used is None or key.last_used < now - timedelta(minutes=5):  # one write per key every 5 minutes
        IngestKey.objects.filter(pk=key.pk).update(last_used=now)
    return len(rows)


# --- ingestion keys and settings ------------------------------------------------------------------------------

KEY_PREFIX = "phc_"


def _hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def ingest_key_create(*, actor: User, org: Organization, name: str) -> tuple[IngestKey, str]:
    """A new ingestion key; the raw key is returned once and only its hash is kept."""
    require_perm(user=actor, org=org, perm=ANALYTICS_MANAGE)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["A key needs a name (which app uses it)."]})
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = IngestKey.objects.create(organization=org, name=name[:100], prefix=raw[:12], key_hash=_hash_key(raw),
                                   created_by=actor)  # fmt: skip
    audit_record(org=org, event=events.INGEST_KEY_CREATED, actor=actor, target=key, metadata={"prefix": key.prefix})
    return key, raw


@transaction.atomic
def ingest_key_revoke(*, actor: User, org: Organization, key: IngestKey) -> IngestKey:
    require_perm(user=actor, org=org, perm=ANALYTICS_MANAGE)
    if key.organization_id != org.pk:
        raise PermissionDenied("The key belongs to another organization.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(org=org, event=events.INGEST_KEY_REVOKED, actor=actor, target=key)
    return key


def ingest_key_authenticate(raw: str) -> IngestKey | None:
    """The live key for a raw key from a client, or None."""
    if not raw or not isinstance(raw, str) or not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        return None
    key = IngestKey.objects.select_related("organization").filter(key_hash=_hash_key(raw), revoked_at=None).first()
    if key is None or not key.organization.is_active:
        return None
    return key


def analytics_settings_of(org: Organization) -> AnalyticsSettings:
    return AnalyticsSettings.objects.filter(organization=org).first() or AnalyticsSettings(organization=org)


@transaction.atomic
def analytics_settings_update(*, actor: User, org: Organization, enabled: bool) -> AnalyticsSettings:
    """Turn product analytics on or off for the organization (off: no event is recorded from then on)."""
    require_perm(user=actor, org=org, perm=ANALYTICS_MANAGE)
    current = analytics_settings_of(org)
    before = current.enabled
    obj, _ = AnalyticsSettings.objects.update_or_create(organization=org, defaults={"enabled": enabled})
    if before != enabled:
        audit_record(org=org, event=events.SETTINGS_CHANGED, actor=actor, changes={"enabled": [before, enabled]})
    return obj


# --- data protection and retention ----------------------------------------------------------------------------


def events_erase_person(*, user: User, actor=None) -> dict:
    """Erasure hook (accounts.services.privacy.user_erase): the person's raw events lose their person number and
    properties (counts stay, nobody can be linked to them), and their per-person rollup rows are deleted.

    Runs inside the erasure's transaction; records one event per organization that had any of their events.
    """
    person = person_of(user.pk)
    org_ids = sorted(set(Event.objects.filter(person=person).values_list("organization_id", flat=True).distinct()))
    raw = Event.objects.filter(person=person).update(person=0, properties={}, ip=None)
    rollups = RollupCount.objects.filter(stat__in=("person_events:day", "person_clients:day"), object_id=person)
    rollup_rows = rollups.delete()[0]
    who = Actor.of(actor) if actor is not None else Actor.system("privacy erasure")
    for org in Organization.objects.filter(pk__in=org_ids):
        audit_record(org=org, event=events.EVENTS_ERASED, actor=who, target=Target("accounts.user", str(user.pk)),
                     metadata={"events": raw, "rollup_rows": rollup_rows})  # fmt: skip
    return {"analytics_events_pseudonymized": raw, "analytics_rollup_rows_deleted": rollup_rows}


def _month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: datetime) -> datetime:
    return (moment.replace(day=28) + timedelta(days=4)).replace(day=1)


def partitions_ensure(*, now: datetime | None = None, months_ahead: int = 2) -> list[str]:
    """PostgreSQL: create the monthly partitions from the retention horizon to `months_ahead` months from now
    (idempotent). Returns the partitions created. A no-op on other databases."""
    if connection.vendor != "postgresql":
        return []
    now = now or timezone.now()
    month = _month_start(now - timedelta(days=settings.ANALYTICS_RETENTION_DAYS))
    last = _month_start(now)
    for _ in range(months_ahead):
        last = _next_month(last)
    created = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'analytics_event'")  # fmt: skip
        existing = {row[0] for row in cursor.fetchall()}
        while month <= last:
            name = f"analytics_event_{month:%Y%m}"
            if name not in existing:
                # Identifiers are built from dates only; the bounds are literals of the same dates.
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF analytics_event "
                    f"FOR VALUES FROM ('{month:%Y-%m-%d}') TO ('{_next_month(month):%Y-%m-%d}')"
                )
                created.append(name)
            month = _next_month(month)
    return created


def events_purge(*, now: datetime | None = None) -> int:
    """Drop raw events older than ANALYTICS_RETENTION_DAYS: whole monthly partitions on PostgreSQL (a partition
    goes once its whole month is past the horizon), batched deletes elsewhere. Rollups are kept."""
    now = now or timezone.now()
    horizon = now - timedelta(days=settings.ANALYTICS_RETENTION_DAYS)
    dropped = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Deferred foreign-key checks of rows inserted earlier in this transaction would block DROP TABLE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                           "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'analytics_event'")  # fmt: skip
            for (name,) in cursor.fetchall():
                try:
                    month = datetime.strptime(name.rsplit("_", 1)[1], "%Y%m").replace(tzinfo=UTC)
                except ValueError:
                    continue
                if _next_month(month) <= horizon:
                    cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608 -- our own partition name
                    dropped += cursor.fetchone()[0]
                    cursor.execute(f"DROP TABLE {name}")
    else:
        while True:
            ids = list(Event.objects.filter(occurred_at__lt=horizon).values_list("id", flat=True)[:5000])
            if not ids:
                break
            dropped += Event.objects.filter(id__in=ids).delete()[0]
    if dropped:
        with transaction.atomic():
            audit_record(org=None, event=events.EVENTS_PURGED, actor=Actor.system("analytics retention"),
                         metadata={"events": dropped, "before": horizon.isoformat()})  # fmt: skip
    return dropped


# --- dashboards -----------------------------------------------------------------------------------------------

DASHBOARD_FIELDS = ("name", "description", "default_range_days")
TILE_FIELDS = ("title", "metric", "chart", "interval", "range_days", "breakdown", "filters", "position")


def _same_org(org: Organization, *objects) -> None:
    for obj in objects:
        if obj.organization_id != org.pk:
            raise PermissionDenied("The object belongs to another organization.")


def _clean_dashboard(values: dict) -> dict:
    unknown = set(values) - set(DASHBOARD_FIELDS)
    if unknown:
        raise ValidationError({name: ["Cannot be changed."] for name in sorted(unknown)})
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"]:
            raise ValidationError({"name": ["A dashboard needs a name."]})
    if "default_range_days" in values and not 1 <= int(values["default_range_days"]) <= 730:
        raise ValidationError({"default_range_days": ["Between 1 and 730 days."]})
    return values


def _clean_tile(values: dict, *, org: Organization | None) -> dict:
    unknown = set(values) - set(TILE_FIELDS)
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    metric_key = values.get("metric")
    if metric_key is not None:
        if metric_key not in metric_catalogue:
            raise ValidationError({"metric": [f"Unknown metric {metric_key!r}."]})
        metric = metric_catalogue[metric_key]
        if ("org" if org is not None else "instance") not in metric.scope:
            raise ValidationError({"metric": [f"Metric {metric_key!r} is not available here."]})
        interval = values.get("interval", "day")
        if interval not in metric.intervals:
            raise ValidationError({"interval": [f"{metric.title} takes one of: {', '.join(metric.intervals)}."]})
        if values.get("breakdown") and values["breakdown"] not in metric.breakdowns:
            raise ValidationError({"breakdown": [f"{metric.title} breaks down by: "
                                                 f"{', '.join(metric.breakdowns) or 'nothing'}."]})  # fmt: skip
        filters = values.get("filters") or {}
        if not isinstance(filters, dict) or set(filters) - set(metric.filters):
            raise ValidationError({"filters": [f"{metric.title} takes the filters: "
                                               f"{', '.join(metric.filters) or 'none'}."]})  # fmt: skip
        if set(filters) - set(FILTERS):
            raise ValidationError({"filters": ["Unknown filter."]})
    if "chart" in values and values["chart"] not in Tile.ChartType.values:
        raise ValidationError({"chart": [f"One of: {', '.join(Tile.ChartType.values)}."]})
    if values.get("range_days") is not None and not 1 <= int(values["range_days"]) <= 730:
        raise ValidationError({"range_days": ["Between 1 and 730 days."]})
    if "title" in values and not (values["title"] or "").strip():
        raise ValidationError({"title": ["A tile needs a title."]})
    return values


def _may_edit(actor: User, org: Organization, dashboard: Dashboard) -> None:
    if not has_perm(user=actor, org=org, perm=DASHBOARDS_EDIT, obj=dashboard):
        raise PermissionDenied(f"You need the '{DASHBOARDS_EDIT.key}' permission on this dashboard.")


@transaction.atomic
def dashboard_create(*, actor: User, org: Organization, name: str, description: str = "",
                     default_range_days: int = 30, tiles: list[dict] | None = None) -> Dashboard:  # fmt: skip
    """A new dashboard (holders of dashboards.edit org-wide), optionally with its tiles."""
    require_perm(user=actor, org=org, perm=DASHBOARDS_EDIT)
    values = _clean_dashboard({"name": name, "description": description, "default_range_days": default_range_days})
    dashboard = Dashboard.objects.create(organization=org, created_by=actor, **values)
    for position, tile in enumerate(tiles or []):
        tile = _clean_tile({"position": position, **tile}, org=org)
        Tile.objects.create(organization=org, dashboard=dashboard, **tile)
    audit_record(org=org, event=events.DASHBOARD_CREATED, actor=actor, target=dashboard,
                 changes=diff({}, snapshot(dashboard, DASHBOARD_FIELDS)))  # fmt: skip
    return dashboard


@transaction.atomic
def dashboard_update(*, actor: User, org: Organization, dashboard: Dashboard, **changes) -> Dashboard:
    _same_org(org, dashboard)
    _may_edit(actor, org, dashboard)
    changes = _clean_dashboard(changes)
    before = snapshot(dashboard, DASHBOARD_FIELDS)
    for name, value in changes.items():
        setattr(dashboard, name, value)
    dashboard.save()
    audit_record(org=org, event=events.DASHBOARD_UPDATED, actor=actor, target=dashboard,
                 changes=diff(before, snapshot(dashboard, DASHBOARD_FIELDS)))  # fmt: skip
    return dashboard


@transaction.atomic
def dashboard_delete(*, actor: User, org: Organization, dashboard: Dashboard) -> None:
    _same_org(org, dashboard)
    _may_edit(actor, org, dashboard)
    audit_record(org=org, event=events.DASHBOARD_DELETED, actor=actor, target=dashboard)
    dashboard.delete()


@transaction.atomic
def dashboard_duplicate(*, actor: User, org: Organization, dashboard: Dashboard, name: str = "") -> Dashboard:
    """A copy with all tiles, owned by the actor (who needs to see the original and to create dashboards)."""
    _same_org(org, dashboard)
    if not has_perm(user=actor, org=org, perm=DASHBOARDS_VIEW, obj=dashboard):
        raise PermissionDenied(f"You need the '{DASHBOARDS_VIEW.key}' permission on this dashboard.")
    require_perm(user=actor, org=org, perm=DASHBOARDS_EDIT)
    copy = Dashboard.objects.create(
        organization=org, name=(name or f"{dashboard.name} (copy)")[:200], description=dashboard.description,
        default_range_days=dashboard.default_range_days, created_by=actor,
    )  # fmt: skip
    Tile.objects.bulk_create(
        Tile(organization=org, dashboard=copy, **{f: getattr(tile, f) for f in TILE_FIELDS})
        for tile in Tile.objects.filter(dashboard=dashboard, organization=org)
    )
    audit_record(org=org, event=events.DASHBOARD_DUPLICATED, actor=actor, target=copy,
                 metadata={"from": dashboard.pk})  # fmt: skip
    return copy


@transaction.atomic
def dashboard_export_record(*, actor: User, org: Organization, dashboard: Dashboard, fmt: str, tile=None) -> None:
    audit_record(org=org, event=events.DASHBOARD_EXPORTED, actor=actor, target=dashboard,
                 metadata={"format": fmt, **({"tile": tile.pk} if tile else {})})  # fmt: skip


@transaction.atomic
def tile_add(*, actor: User, org: Organization, dashboard: Dashboard, **values) -> Tile:
    _same_org(org, dashboard)
    _may_edit(actor, org, dashboard)
    if "metric" not in values or "title" not in values:
        raise ValidationError({k: ["This field is required."] for k in ("metric", "title") if k not in values})
    values = _clean_tile(values, org=org)
    if "position" not in values:
        values["position"] = Tile.objects.filter(dashboard=dashboard).count()
    tile = Tile.objects.create(organization=org, dashboard=dashboard, **values)
    audit_record(org=org, event=events.TILE_ADDED, actor=actor, target=dashboard,
                 changes=diff({}, snapshot(tile, TILE_FIELDS)))  # fmt: skip
    return tile


@transaction.atomic
def tile_update(*, actor: User, org: Organization, tile: Tile, **changes) -> Tile:
    _same_org(org, tile)
    _may_edit(actor, org, tile.dashboard)
    merged = {f: getattr(tile, f) for f in ("metric", "interval", "breakdown", "filters")} | changes
    _clean_tile(merged, org=org)
    before = snapshot(tile, TILE_FIELDS)
    for name, value in changes.items():
        setattr(tile, name, value)
    tile.save()
    audit_record(org=org, event=events.TILE_UPDATED, actor=actor, target=tile.dashboard,
                 changes=diff(before, snapshot(tile, TILE_FIELDS)))  # fmt: skip
    return tile


@transaction.atomic
def tile_remove(*, actor: User, org: Organization, tile: Tile) -> None:
    _same_org(org, tile)
    _may_edit(actor, org, tile.dashboard)
    audit_record(org=org, event=events.TILE_REMOVED, actor=actor, target=tile.dashboard,
                 changes=diff(snapshot(tile, TILE_FIELDS), {}))  # fmt: skip
    tile.delete()


def org_overview_ensure(*, org: Organization) -> Dashboard:
    """The built-in "Organization overview" of an organization, created the first time anyone asks for it."""
    from analytics.builtin import ORG_OVERVIEW, ORG_OVERVIEW_KEY

    existing = Dashboard.objects.filter(organization=org, builtin=ORG_OVERVIEW_KEY).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        dashboard, created = Dashboard.objects.get_or_create(
            organization=org, builtin=ORG_OVERVIEW_KEY,
            defaults={"name": ORG_OVERVIEW["name"], "description": ORG_OVERVIEW["description"]},
        )  # fmt: skip
        if created:
            Tile.objects.bulk_create(
                Tile(organization=org, dashboard=dashboard, position=i, **tile)
                for i, tile in enumerate(ORG_OVERVIEW["tiles"])
            )
            audit_record(org=org, event=events.DASHBOARD_CREATED, actor=Actor.system("analytics"), target=dashboard)
    return dashboard


def metric_input_error(exc: MetricInputError) -> ValidationError:
    return ValidationError({exc.field: [str(exc)]})
