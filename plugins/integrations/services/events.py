"""Webhook events from the audit trail: every change in chatapp is recorded there in the transaction that makes
it, so reading the trail after a cursor yields message.posted, channel.created and member.joined events (and
every audit event as `audit.<name>`) without a hook in the other apps, at-least-once and in order.

The cursor moves in the same transaction that writes the events and their deliveries, so a crash replays a
batch rather than losing it; the event ids are new on a replayed batch, which is why the pump runs in one
process at a time (a lock row), every few seconds from beat.
"""

from django.db import transaction

from accounts.models import Organization
from audit.models import AuditEvent
from chatapp.chat.models import Channel, Message
from plugins.integrations.models import EventCursor, WebhookEndpoint
from plugins.integrations.services.webhooks import event_publish

BATCH = 500
AUDIT_FIELDS = ("event_name", "category", "occurred_at", "actor_type", "actor_id", "actor_label", "target_type",
                "target_id", "target_label", "outcome", "sequence")  # fmt: skip


def _channel(channel: Channel | None) -> dict | None:
    if channel is None:
        return None
    return {"id": channel.pk, "name": channel.name, "is_private": channel.is_private}


def _user(user) -> dict | None:
    return {"id": user.pk, "email": user.email, "name": user.full_name} if user is not None else None


def chat_events(org, rows: list[dict]) -> list[tuple[str, dict, object]]:
    """(event type, data, occurred_at) for the rows that are chat events, with two queries for all of them."""
    message_ids = [int(r["target_id"]) for r in rows if r["event_name"] == "message.posted" and r["target_id"]]
    channel_ids = [int(r["target_id"]) for r in rows if r["event_name"] in ("channel.created", "channel.member_added")]
    messages = {
        m.pk: m for m in Message.objects.for_org(org).filter(pk__in=message_ids).select_related("channel", "author")
    }
    channels = {c.pk: c for c in Channel.objects.for_org(org).filter(pk__in=channel_ids)}
    found = []
    for row in rows:
        name, target = row["event_name"], row["target_id"]
        if name == "message.posted" and target and int(target) in messages:
            message = messages[int(target)]
            if message.deleted is not None:
                continue
            data = {
                "message": {"id": message.pk, "body": message.body, "created": message.created.isoformat()},
                "channel": _channel(message.channel),
                "author": _user(message.author),
            }
            found.append(("message.posted", data, row["occurred_at"]))
        elif name == "channel.created" and target and int(target) in channels:
            data = {"channel": _channel(channels[int(target)]), "creator": {"id": row["actor_id"]}}
            found.append(("channel.created", data, row["occurred_at"]))
        elif name == "channel.member_added" and target and int(target) in channels:
            user = (row.get("metadata") or {}).get("user_id")
            found.append(("member.joined", {"channel": _channel(channels[int(target)]), "user": {"id": user}},
                          row["occurred_at"]))  # fmt: skip
    return found


def events_pump(*, org: Organization, limit: int = BATCH) -> int:
    """Turn the organization's audit events after its cursor into webhook events; returns how many were read."""
    with transaction.atomic():
        cursor = EventCursor.objects.select_for_update().filter(organization=org).first()
        if cursor is None:
            return 0
        rows = list(
            AuditEvent.objects.filter(chain=org.pk, sequence__gt=cursor.last_sequence)
            .order_by("sequence")
            .values(*AUDIT_FIELDS, "metadata")[:limit]
        )
        if not rows:
            return 0
        for event_type, data, occurred_at in chat_events(org, rows):
            event_publish(org=org, event_type=event_type, data=data, occurred_at=occurred_at)
        for row in rows:
            data = {name: row[name] for name in AUDIT_FIELDS}
            data["occurred_at"] = row["occurred_at"].isoformat()
            event_publish(org=org, event_type=f"audit.{row['event_name']}", data=data, occurred_at=row["occurred_at"])
        cursor.last_sequence = rows[-1]["sequence"]
        cursor.save(update_fields=["last_sequence"])
        return len(rows)


def organizations_with_endpoints():
    return Organization.objects.filter(
        pk__in=WebhookEndpoint.objects.filter(enabled=True).values("organization_id"), is_active=True
    )
