"""Import a Slack workspace export (the zip from Slack's "Export data") into an organization, as a resumable job.

What maps: channels (public from channels.json, private from groups.json: matched by name, else created),
users (matched to active members by e-mail; the others' messages are posted by the Slack bot with their Slack
name), messages with their original time. chatapp has no threads or reactions: thread replies become messages
marked "↳" after their parent, and reactions, files and join/leave notices are counted in `unmapped`.

Resumable: each imported channel and message is remembered (ImportedItem, by Slack channel id and message ts) in
the transaction that writes it, so a job that stopped part-way, or a second run of the same export, continues
where it was and creates no duplicates.
"""

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Membership
from audit.services import Actor, audit_record
from chatapp.chat.models import Channel, ChannelMember, Message
from chatapp.chat.services import MESSAGE_MAX_LENGTH
from plugins.integrations import audit_events as events
from plugins.integrations.models import ImportedItem, SlackImport, SlackImportStatus
from plugins.integrations.services.common import bot_user, require_manage
from plugins.integrations.webhooks.slack_format import mrkdwn

BATCH = 500
SKIPPED_SUBTYPES = {"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name",
                    "group_join", "group_leave", "pinned_item", "bot_add", "bot_remove"}  # fmt: skip
MAX_ARCHIVE_BYTES = 2 * 1024**3


def import_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


@transaction.atomic
def import_start(*, actor, org, upload) -> SlackImport:
    """Keep the uploaded zip and queue the job (org.manage)."""
    require_manage(actor, org)
    if upload.size > MAX_ARCHIVE_BYTES:
        raise ValidationError({"file": ["The export is larger than 2 GB."]})
    job = SlackImport.objects.create(organization=org, archive="", created_by=actor)
    path = import_dir() / f"{org.pk}-{job.pk}.zip"
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    if not zipfile.is_zipfile(path):
        path.unlink()
        raise ValidationError({"file": ["Not a zip file: upload the export Slack gave you."]})
    job.archive = path.name
    job.save(update_fields=["archive"])
    audit_record(org=org, event=events.SLACK_IMPORT_STARTED, actor=actor, target=job)
    from plugins.integrations import tasks

    transaction.on_commit(lambda: tasks.slack_import_run.delay(job.pk))
    return job


def _read(archive: zipfile.ZipFile, name: str):
    try:
        return json.loads(archive.read(name))
    except KeyError:
        return []


def _ts(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), tz=UTC)


def import_run(import_id: int) -> SlackImport | None:
    """Run (or resume) an import. Safe to run twice and after a crash: done items are skipped."""
    job = SlackImport.objects.select_related("organization", "created_by").filter(pk=import_id).first()
    if job is None or job.status == SlackImportStatus.DONE:
        return job
    SlackImport.objects.filter(pk=job.pk).update(status=SlackImportStatus.RUNNING)
    try:
        with zipfile.ZipFile(import_dir() / job.archive) as archive:
            _run(job, archive)
    except (OSError, zipfile.BadZipFile, ValueError, KeyError) as exc:
        SlackImport.objects.filter(pk=job.pk).update(status=SlackImportStatus.FAILED, error=str(exc)[:300])
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    return job


def _run(job: SlackImport, archive: zipfile.ZipFile) -> None:
    org = job.organization
    users = {u["id"]: u for u in _read(archive, "users.json") if isinstance(u, dict) and "id" in u}
    emails = {(u.get("profile") or {}).get("email", "").lower(): uid for uid, u in users.items()}
    members = dict(
        Membership.objects.filter(organization=org, is_active=True, user__email__in=[e for e in emails if e])
        .annotate(email=Lower("user__email"))
        .values_list("email", "user_id")
    )
    user_map = {uid: members[email] for email, uid in emails.items() if email in members}
    slack_bot = bot_user(org=org, slug="slack", name="Slack")
    unmapped = {"users": sorted((users[uid].get("name") or uid) for uid in users if uid not in user_map),
                "reactions": 0, "files": 0, "notices": 0, "threads_flattened": 0}  # fmt: skip
    progress = {"channels": 0, "messages": 0, "skipped_existing": 0, "total_messages": 0}

    channels = [(c, False) for c in _read(archive, "channels.json")] + [
        (c, True) for c in _read(archive, "groups.json")
    ]
    names = set(archive.namelist())
    for info, private in channels:
        channel = _channel(job, info, private)
        progress["channels"] += 1
        files = sorted(n for n in names if n.startswith(f"{info['name']}/") and n.endswith(".json"))
        messages = [m for name in files for m in _read(archive, name) if isinstance(m, dict) and m.get("ts")]
        progress["total_messages"] += len(messages)
        done = set(
            ImportedItem.objects.filter(
                organization=org, kind="message", source_id__startswith=f"{info['id']}:"
            ).values_list("source_id", flat=True)
        )
        batch = []
        for message in messages:
            source = f"{info['id']}:{message['ts']}"
            if source in done:
                progress["skipped_existing"] += 1
                continue
            unmapped["reactions"] += sum(r.get("count", 1) for r in message.get("reactions") or [])
            unmapped["files"] += len(message.get("files") or [])
            if message.get("subtype") in SKIPPED_SUBTYPES:
                unmapped["notices"] += 1
                continue
            batch.append((source, message))
            if len(batch) >= BATCH:
                progress["messages"] += _write(job, channel, batch, user_map, users, slack_bot, unmapped)
                batch = []
                SlackImport.objects.filter(pk=job.pk).update(progress=progress)
        if batch:
            progress["messages"] += _write(job, channel, batch, user_map, users, slack_bot, unmapped)
        SlackImport.objects.filter(pk=job.pk).update(progress=progress)
    with transaction.atomic():
        SlackImport.objects.filter(pk=job.pk).update(status=SlackImportStatus.DONE, progress=progress,
                                                     unmapped=unmapped, finished_at=timezone.now())  # fmt: skip
        audit_record(org=org, event=events.SLACK_IMPORT_FINISHED, actor=Actor.system("slack import"), target=job,
                     metadata={**progress, "unmapped_users": len(unmapped["users"])})  # fmt: skip


@transaction.atomic
def _channel(job: SlackImport, info: dict, private: bool) -> Channel:
    org = job.organization
    item = ImportedItem.objects.filter(organization=org, kind="channel", source_id=info["id"]).first()
    if item is not None:
        return Channel.objects.get(pk=item.target_id, organization=org)
    name = str(info.get("name") or info["id"])[:80]
    channel = Channel.objects.for_org(org).filter(name__iexact=name).first()
    if channel is None:
        from chatapp.chat.services import channel_create

        topic = str((info.get("topic") or {}).get("value", ""))[:250]
        channel = channel_create(actor=job.created_by, org=org, name=name, topic=topic, is_private=private)
    ImportedItem.objects.create(organization=org, kind="channel", source_id=info["id"], target_id=channel.pk)
    return channel


@transaction.atomic
def _write(job, channel, batch, user_map, users, slack_bot, unmapped) -> int:
    """Write one batch of messages and remember them, in one transaction (the unit of resumption)."""
    org = job.organization
    rows, authors = [], set()
    for _source, message in batch:
        author_id = user_map.get(message.get("user"))
        text = mrkdwn(message.get("text") or "").strip() or "(no text)"
        if author_id is None:
            slack_name = (users.get(message.get("user")) or {}).get("name") or message.get("username") or "someone"
            text = f"**{slack_name}** (Slack): {text}"
        if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
            text = f"↳ {text}"
            unmapped["threads_flattened"] += 1
        author = author_id or slack_bot.pk
        authors.add(author)
        rows.append(Message(organization=org, channel=channel, author_id=author, body=text[:MESSAGE_MAX_LENGTH],
                            created=_ts(message["ts"])))  # fmt: skip
    created = Message.objects.bulk_create(rows)
    ImportedItem.objects.bulk_create([
        ImportedItem(organization=org, kind="message", source_id=source, target_id=m.pk)
        for (source, _), m in zip(batch, created, strict=True)
    ])  # fmt: skip
    existing = set(ChannelMember.objects.filter(channel=channel, user_id__in=authors).values_list("user_id", flat=True))
    ChannelMember.objects.bulk_create([ChannelMember(organization=org, channel=channel, user_id=a)
                                       for a in authors - existing])  # fmt: skip
    return len(created)
