"""The catalogue of report section types, declared in code (one `Registry`, like audit events and permissions).

A section type knows its parameters, the permission a viewer needs to see it, whether it may go to addresses
outside the organization, and how to compute itself for a period. Computing returns plain JSON-ready data
(the run stores it; the PDF, e-mail, CSV and JSON downloads all read it).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import markdown
import nh3
from django.core.exceptions import ValidationError
from django.db.models import Count

from chatapp.kernel.registry import Registry
from reports import metrics, trends

PERIOD_INTERVAL = {"day": "hour", "week": "day", "month": "day", "quarter": "week", "custom": "day"}
TABLE_MAX_ROWS = 5000  # a table section stops here and says so (the CSV has the same rows)


@dataclass(frozen=True)
class Context:
    """What a section is computed for: an organization, the viewer whose permissions apply, and a period."""

    org: object
    viewer: object
    start: datetime
    end: datetime
    period: str  # day, week, month, quarter or custom

    def previous(self, n: int = 1) -> tuple[datetime, datetime]:
        """The period n periods back, of the same kind (calendar months and quarters stay calendar)."""
        start, end = self.start, self.end
        for _ in range(n):
            start, end = shift_back(start, end, self.period), start
        return start, end


def shift_back(start: datetime, end: datetime, period: str) -> datetime:
    """The start of the period before [start, end)."""
    if period in ("month", "quarter"):
        months = 1 if period == "month" else 3
        year, month = divmod(start.month - 1 - months, 12)
        return start.replace(year=start.year + year, month=month + 1)
    return start - (end - start)


@dataclass(frozen=True)
class SectionType:
    key: str
    title: str
    kind: str  # metric, table, comparison, text, summary
    compute: Callable[[Context, dict], dict]
    description: str = ""
    permission: str | None = None  # the viewer and every recipient need it
    external_ok: bool = False  # may go to addresses outside the organization
    params: dict = field(default_factory=dict)  # name -> description (for the builder and the API docs)
    validate: Callable[[dict], dict] | None = None


sections: Registry[SectionType] = Registry("report section")


def section(key: str, title: str, kind: str, **options):
    def register(compute):
        sections.register(SectionType(key=key, title=title, kind=kind, compute=compute, **options))
        return compute

    return register


def clean_sections(raw) -> list[dict]:
    """Validate a report's section list: known types, their parameters; returns the normalised list."""
    if not isinstance(raw, list):
        raise ValidationError({"sections": ["A list of sections."]})
    if len(raw) > 40:
        raise ValidationError({"sections": ["At most 40 sections."]})
    cleaned = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise ValidationError({"sections": [f"Section {index + 1}: an object with a 'type'."]})
        unknown = set(item) - {"type", "title", "params"}
        if unknown:
            raise ValidationError({"sections": [f"Section {index + 1}: unknown keys {sorted(unknown)}."]})
        if item["type"] not in sections:
            raise ValidationError(
                {"sections": [f"Section {index + 1}: unknown type {item['type']!r}; see /report-sections/."]}
            )
        kind = sections[item["type"]]
        params = item.get("params") or {}
        if not isinstance(params, dict):
            raise ValidationError({"sections": [f"Section {index + 1}: 'params' is an object."]})
        extra = set(params) - set(kind.params)
        if extra:
            raise ValidationError({"sections": [f"Section {index + 1}: unknown parameters {sorted(extra)}."]})
        if kind.validate:
            try:
                params = kind.validate(params)
            except ValueError as exc:
                raise ValidationError({"sections": [f"Section {index + 1}: {exc}"]}) from None
        default = metrics.available()[params["metric"]].title if kind.key == "metric" else kind.title
        title = item.get("title") or default
        if not isinstance(title, str) or len(title) > 200:
            raise ValidationError({"sections": [f"Section {index + 1}: a title of at most 200 characters."]})
        cleaned.append({"type": kind.key, "title": title, "params": params})
    return cleaned


def _table(columns: list[str], rows: list[list], **extra) -> dict:
    truncated = len(rows) > TABLE_MAX_ROWS
    return {"columns": columns, "rows": rows[:TABLE_MAX_ROWS], "truncated": truncated, **extra}


# --- metrics -------------------------------------------------------------------------------------------------


def _metric_key(params: dict) -> dict:
    key = params.get("metric")
    if key not in metrics.available():
        raise ValueError(f"'metric' is one of {', '.join(metrics.available())}.")
    periods = params.get("periods", 8)
    if isinstance(periods, bool) or not isinstance(periods, int) or not 2 <= periods <= 26:
        raise ValueError("'periods' is a whole number from 2 to 26.")
    return {"metric": key, "periods": periods}


def _period_values(ctx: Context, key: str, count: int) -> list[float]:
    """The metric for the current period and the `count - 1` before it, oldest first."""
    values = []
    for n in range(count - 1, -1, -1):
        start, end = ctx.previous(n)
        series = metrics.metric_series(key, org=ctx.org, start=start, end=end, interval=None)
        values.append(series[0][1] if series else 0.0)
    return values


_LABELS = {"hour": "%H:00", "day": "%a %d %b", "week": "%d %b", "month": "%b %Y", "quarter": "%b %Y"}


def _label(moment: datetime, interval: str) -> str:
    return moment.strftime(_LABELS[interval])


@section(
    "metric", "Metric", "metric", external_ok=True, validate=_metric_key,
    description="One metric: its value, the change against the previous period, a sparkline, the trend and "
    "a flag when the value falls outside its usual band (median ± 3 MAD of the last 8 periods).",
    params={"metric": f"One of: {', '.join(metrics.METRICS)}, or an organization metric of the analytics catalogue.",
            "periods": "Periods of history (2-26, default 8)."},
)  # fmt: skip
def metric_section(ctx: Context, params: dict) -> dict:
    key, metric = params["metric"], metrics.available()[params["metric"]]
    values = _period_values(ctx, key, max(params.get("periods", 8), 9))  # 8 before the current one for the band
    analysis = trends.analyse(metric.title, values, period=ctx.period)
    interval = PERIOD_INTERVAL[ctx.period]
    detail = metrics.metric_series(key, org=ctx.org, start=ctx.start, end=ctx.end, interval=interval)
    findings = list(analysis.findings)
    if interval == "day" and ctx.period == "week" and metric.aggregate == "sum":
        # Which day stood out: this week's days against the days of the 8 weeks before.
        history_start, _ = ctx.previous(8)
        history = metrics.metric_series(key, org=ctx.org, start=history_start, end=ctx.start, interval="day")
        findings += trends.unusual_buckets(
            [v for _, v in detail], [m.strftime("%A") for m, _ in detail],
            title=metric.title, history=[v for _, v in history],
        )  # fmt: skip
    return {
        "metric": key,
        "value": analysis.value,
        "previous": analysis.previous,
        "change_pct": None if analysis.change_pct is None else round(analysis.change_pct, 1),
        "direction": analysis.direction,
        "slope": round(analysis.slope, 3),
        "flag": analysis.flag,
        "band": None if analysis.band is None else [round(analysis.band.low, 2), round(analysis.band.high, 2)],
        "history": values[-params.get("periods", 8) :],
        "findings": findings,
        "chart": {"x_labels": [_label(m, interval) for m, _ in detail], "values": [v for _, v in detail]},
        "unit": metric.unit,
    }


def _metric_list(params: dict) -> dict:
    keys = params.get("metrics")
    if not isinstance(keys, list) or not keys or any(k not in metrics.available() for k in keys):
        raise ValueError(f"'metrics' is a list drawn from {', '.join(metrics.available())}.")
    return {"metrics": list(dict.fromkeys(keys))}


@section(
    "comparison", "This period against the previous", "table", external_ok=True, validate=_metric_list,
    description="Several metrics, this period against the previous one, with the change in %.",
    params={"metrics": f"A list drawn from: {', '.join(metrics.METRICS)} and the analytics catalogue."},
)  # fmt: skip
def comparison_section(ctx: Context, params: dict) -> dict:
    rows = []
    for key in params["metrics"]:
        previous, current = _period_values(ctx, key, 2)
        change = trends.change_pct(current, previous)
        rows.append([metrics.available()[key].title, current, previous, None if change is None else round(change, 1)])
    return _table(["Metric", "This period", "Previous period", "Change %"], rows)


# --- tables --------------------------------------------------------------------------------------------------


@section("members", "Members", "table", permission="members.view",
         description="Members, their role, when they joined and their messages in the period.")  # fmt: skip
def members_section(ctx: Context, params: dict) -> dict:
    from accounts.models import Membership
    from chatapp.chat.models import Message

    posted = dict(
        Message.objects.for_org(ctx.org)
        .filter(created__gte=ctx.start, created__lt=ctx.end)
        .values_list("author_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    members = (
        Membership.objects.filter(organization=ctx.org, is_active=True)
        .order_by("user__email")
        .values_list("user_id", "user__email", "user__full_name", "role", "joined")
    )
    rows = [
        [email, name, role, joined.date().isoformat(), posted.get(pk, 0)] for pk, email, name, role, joined in members
    ]
    return _table(["E-mail", "Name", "Role", "Joined", "Messages"], rows)


@section("channels_by_activity", "Channels by activity", "table", permission="channels.view",
         description="The channels the viewer can see, by messages posted in the period.")  # fmt: skip
def channels_section(ctx: Context, params: dict) -> dict:
    from chatapp.chat.models import Message
    from chatapp.chat.selectors import channels_visible_to

    visible = channels_visible_to(user=ctx.viewer, org=ctx.org)
    counts = dict(
        Message.objects.for_org(ctx.org)
        .filter(created__gte=ctx.start, created__lt=ctx.end, channel__in=visible.values("pk"))
        .values_list("channel_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = [[c.name, "private" if c.is_private else "public", c.member_count, counts.get(c.pk, 0)] for c in visible]
    rows.sort(key=lambda row: (-row[3], row[0]))
    return _table(["Channel", "Visibility", "Members", "Messages"], rows)


def _area(name: str) -> str:
    """A compliance section's name as a label: api_key_lifecycle -> API key lifecycle."""
    return name.replace("_", " ").capitalize().replace("Api ", "API ")


@section("audit_summary", "Audit summary", "table", permission="audit.read",
         description="Audit events recorded in the period, by event.")  # fmt: skip
def audit_summary_section(ctx: Context, params: dict) -> dict:
    from audit.selectors import compliance_summary

    summary = compliance_summary(org=ctx.org, since=ctx.start, until=ctx.end)
    rows = [
        [_area(name), event, n] for name, block in summary["sections"].items() for event, n in block["events"].items()
    ]
    return _table(["Area", "Event", "Count"], rows, total=summary["events"])


def _mfa_coverage(org) -> tuple[int, int]:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Membership
    from accounts.models.mfa import WebAuthnDevice

    members = Membership.objects.filter(organization=org, is_active=True).values("user_id")
    with_mfa = (
        set(TOTPDevice.objects.filter(user_id__in=members, confirmed=True).values_list("user_id", flat=True))
        | set(WebAuthnDevice.objects.filter(user_id__in=members, confirmed=True).values_list("user_id", flat=True))
    )  # fmt: skip
    return len(with_mfa), members.count()


@section("compliance", "Security and compliance", "summary", permission="audit.read",
         description="From the audit trail's compliance summary: admin actions, permission changes, failed "
         "logins, SSO and policy changes, API key lifecycle, denied access, retention, MFA coverage and open "
         "access reviews.")  # fmt: skip
def compliance_section(ctx: Context, params: dict) -> dict:
    from audit.selectors import compliance_summary
    from chatapp.chat.retention import rules_of
    from rbac.models import AccessReview

    summary = compliance_summary(org=ctx.org, since=ctx.start, until=ctx.end)
    with_mfa, members = _mfa_coverage(ctx.org)
    retention = rules_of(ctx.org)
    figures = [
        ["Audit events", summary["events"]],
        ["Admin actions", summary["admin_actions"]],
        ["Failed logins", summary["failed_logins"]["total"]],
        *[[_area(name), block["total"]] for name, block in summary["sections"].items()],
        ["Members with MFA", f"{with_mfa} of {members} ({(with_mfa / members * 100 if members else 0):.0f} %)"],
        ["Message retention", f"{retention.days} days ({retention.action})" if retention.enabled else "off"],
        ["Open access reviews", AccessReview.objects.for_org(ctx.org).filter(status=AccessReview.Status.OPEN).count()],
    ]
    return _table(["Control", "Value"], figures)


@section("failed_logins", "Failed logins by account", "table", permission="audit.read",
         description="Accounts of members with failed logins in the period, most first (top 20).")  # fmt: skip
def failed_logins_section(ctx: Context, params: dict) -> dict:
    from audit.selectors import compliance_summary

    summary = compliance_summary(org=ctx.org, since=ctx.start, until=ctx.end)["failed_logins"]
    return _table(
        ["Account", "Failed logins"], [[a, n] for a, n in summary["by_account"].items()], total=summary["total"]
    )


@section("access_reviews", "Access reviews", "table", permission="audit.read",
         description="Access reviews with their status, due date and decisions (evidence for auditors).")  # fmt: skip
def access_reviews_section(ctx: Context, params: dict) -> dict:
    from rbac.selectors import reviews_of

    rows = [
        [r.name, r.get_status_display(), r.due_at.date().isoformat() if r.due_at else "", r.item_count,
         r.item_count - r.undecided_count, r.undecided_count]
        for r in reviews_of(org=ctx.org, user=ctx.viewer, see_all=True).order_by("-due_at", "name")
    ]  # fmt: skip
    return _table(["Review", "Status", "Due", "Items", "Decided", "Undecided"], rows)


@section("api_keys", "API key inventory", "table", permission="api_keys.manage",
         description="Every API key: owner, kind, created, expiry, last use and whether it is revoked.")  # fmt: skip
def api_keys_section(ctx: Context, params: dict) -> dict:
    from accounts.models import ApiKey

    keys = ApiKey.objects.for_org(ctx.org).select_related("owner").order_by("name", "id")
    rows = [
        [k.name, k.prefix, k.get_kind_display(), k.owner.email, k.created_at.date().isoformat(),
         k.expires_at.date().isoformat(), k.last_used_at.date().isoformat() if k.last_used_at else "never",
         "revoked" if k.revoked_at else ("expired" if k.expires_at < ctx.end else "active")]
        for k in keys
    ]  # fmt: skip
    return _table(["Name", "Prefix", "Kind", "Owner", "Created", "Expires", "Last used", "State"], rows)


# --- text ----------------------------------------------------------------------------------------------------

ALLOWED_TAGS = {"p", "h3", "h4", "ul", "ol", "li", "strong", "em", "code", "pre", "blockquote", "br", "a", "table",
                "thead", "tbody", "tr", "th", "td"}  # fmt: skip


def _text(params: dict) -> dict:
    body = params.get("markdown", "")
    if not isinstance(body, str) or len(body) > 20_000:
        raise ValueError("'markdown' is text of at most 20,000 characters.")
    return {"markdown": body}


@section("text", "Text", "text", external_ok=True, validate=_text, params={"markdown": "Markdown text."},
         description="Your own words in Markdown, sanitised (no scripts, images or raw HTML).")  # fmt: skip
def text_section(ctx: Context, params: dict) -> dict:
    html = markdown.markdown(params.get("markdown", ""), extensions=["tables"])
    # Links keep their text but never fetch anything: the PDF renderer refuses remote URLs anyway.
    return {"html": nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href"}}, url_schemes={"https", "mailto"})}


def compute_all(ctx: Context, definition: list[dict], *, progress: Callable[[int], None] | None = None) -> list[dict]:
    """Every section of a definition, in order, each with its type, title, kind and data."""
    out = []
    for index, item in enumerate(definition):
        kind = sections[item["type"]]
        out.append({"type": kind.key, "kind": kind.kind, "title": item["title"],
                    "data": kind.compute(ctx, item.get("params") or {})})  # fmt: skip
        if progress:
            progress(index + 1)
    return out


def period_bounds(period: str, *, now: datetime, tz, custom: tuple | None = None) -> tuple[datetime, datetime]:
    """The last complete period before `now` in time zone `tz` (aware datetimes at local midnights)."""
    local = now.astimezone(tz)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "custom":
        first, last = custom
        start = datetime(first.year, first.month, first.day, tzinfo=tz)
        end = datetime(last.year, last.month, last.day, tzinfo=tz) + timedelta(days=1)
    elif period == "day":
        start, end = today - timedelta(days=1), today
    elif period == "week":
        end = today - timedelta(days=today.weekday())
        start = end - timedelta(days=7)
    elif period == "month":
        end = today.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
    elif period == "quarter":
        end = today.replace(day=1, month=(today.month - 1) // 3 * 3 + 1)
        start = shift_back(end, end, "quarter")
    else:
        raise ValueError(f"unknown period {period!r}")
    # Wall-clock midnights in `tz` (zoneinfo works out each one's UTC offset, so DST changes are right).
    return start, end
