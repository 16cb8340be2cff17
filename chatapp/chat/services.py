"""Every write to the chat core. Keyword-only, actor and org first, permission checked, one transaction."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from analytics import events as analytics_events
from analytics.tracking import track
from audit.services import Target, audit_record, diff, snapshot
from chatapp.chat import audit_events as events
from chatapp.chat.models import Channel, ChannelMember, Message
from chatapp.chat.permissions import CHANNELS_CREATE, CHANNELS_MANAGE, MESSAGES_DELETE_ANY, MESSAGES_POST
from chatapp.chat.selectors import channel_readable
from chatapp.kernel.errors import Conflict
from rbac.services import has_perm, require_perm

MESSAGE_MAX_LENGTH = 10_000
CHANNEL_AUDITED_FIELDS = ("name", "topic", "is_private", "is_archived")


def _same_org(org: Organization, *objects) -> None:
    # Callers resolve objects through org-scoped selectors; this guards against a mix-up reaching the DB.
    for obj in objects:
        if obj.organization_id != org.pk:
            raise PermissionDenied("The object belongs to another organization.")


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["A channel needs a name."]})
    return name


def _clean_body(body: str) -> str:
    if not (body or "").strip():
        raise ValidationError({"body": ["A message cannot be empty."]})
    if len(body) > MESSAGE_MAX_LENGTH:
        raise ValidationError({"body": [f"A message has at most {MESSAGE_MAX_LENGTH} characters."]})
    return body


def _may_manage(*, actor: User, org: Organization, channel: Channel) -> bool:
    """The channel's creator, or whoever holds channels.manage org-wide or on this channel."""
    return channel.created_by_id == actor.pk or has_perm(user=actor, org=org, perm=CHANNELS_MANAGE, obj=channel)


def _save_unique_name(channel: Channel) -> None:
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError:
        raise Conflict(f"A channel named '{channel.name}' already exists in this organization.") from None


@transaction.atomic
def channel_create(*, actor: User, org: Organization, name: str, topic: str = "", is_private: bool = False) -> Channel:
    """Create a channel; its creator becomes its first member."""
    require_perm(user=actor, org=org, perm=CHANNELS_CREATE)
    channel = Channel(organization=org, name=_clean_name(name), topic=topic, is_private=is_private, created_by=actor)
    _save_unique_name(channel)
    ChannelMember.objects.create(organization=org, channel=channel, user=actor)
    audit_record(
        org=org, event=events.CHANNEL_CREATED, actor=actor, target=channel,
        changes=diff({}, snapshot(channel, CHANNEL_AUDITED_FIELDS)),
    )  # fmt: skip
    if not channel.is_private:  # plugins are not told private channels exist
        _plugin_event(org, "channel.created", actor, id=channel.pk, name=channel.name, topic=channel.topic)
    track(analytics_events.CHANNEL_CREATED, org=org, user=actor, channel=channel)
    return channel


@transaction.atomic
def channel_update(*, actor: User, org: Organization, channel: Channel, **changes) -> Channel:
    """Change a channel's name, topic or privacy (its creator, or whoever may manage channels)."""
    _same_org(org, channel)
    if not _may_manage(actor=actor, org=org, channel=channel):
        raise PermissionDenied(f"You need the '{CHANNELS_MANAGE.key}' permission or to have created the channel.")
    if channel.is_archived:
        raise Conflict("The channel is archived; unarchive it first.")
    unknown = set(changes) - {"name", "topic", "is_private"}
    if unknown:
        raise ValidationError({name: ["Cannot be changed."] for name in sorted(unknown)})
    if "name" in changes:
        changes["name"] = _clean_name(changes["name"])
    before = snapshot(channel, CHANNEL_AUDITED_FIELDS)
    for field, value in changes.items():
        setattr(channel, field, value)
    _save_unique_name(channel)
    audit_record(
        org=org, event=events.CHANNEL_UPDATED, actor=actor, target=channel,
        changes=diff(before, snapshot(channel, CHANNEL_AUDITED_FIELDS)),
    )  # fmt: skip
    return channel


@transaction.atomic
def channel_set_archived(*, actor: User, org: Organization, channel: Channel, archived: bool) -> Channel:
    """Archive (read-only) or unarchive a channel. Doing it twice is harmless."""
    _same_org(org, channel)
    if not _may_manage(actor=actor, org=org, channel=channel):
        raise PermissionDenied(f"You need the '{CHANNELS_MANAGE.key}' permission or to have created the channel.")
    changed = Channel.objects.filter(pk=channel.pk, is_archived=not archived).update(is_archived=archived)
    channel.is_archived = archived
    if changed:  # archiving an archived channel changes nothing, and records nothing
        audit_record(
            org=org, event=events.CHANNEL_ARCHIVED if archived else events.CHANNEL_UNARCHIVED, actor=actor,
            target=channel, changes={"is_archived": [not archived, archived]},
        )  # fmt: skip
    return channel


@transaction.atomic
def channel_member_add(*, actor: User, org: Organization, channel: Channel, user: User) -> tuple[ChannelMember, bool]:
    """Add an organization member to a channel; any channel member may, like whoever manages channels.

    Returns (member, created); adding someone twice returns the existing row.
    """
    _same_org(org, channel)
    if not (
        ChannelMember.objects.filter(channel=channel, user=actor).exists()
        or has_perm(user=actor, org=org, perm=CHANNELS_MANAGE, obj=channel)
    ):
        raise PermissionDenied("Only the channel's members, or whoever may manage channels, can add people.")
    if channel.is_archived:
        raise Conflict("The channel is archived; unarchive it first.")
    if not Membership.objects.filter(organization=org, user=user, is_active=True).exists():
        raise ValidationError({"user": ["Not an active member of this organization."]})
    member, created = ChannelMember.objects.get_or_create(organization=org, channel=channel, user=user)
    if created:
        audit_record(
            org=org, event=events.CHANNEL_MEMBER_ADDED, actor=actor, target=channel,
            metadata={"user_id": user.pk, "user": user.email},
        )  # fmt: skip
        _plugin_event(org, "channel.member_added", actor, channel_id=channel.pk, user_id=user.pk)
    return member, created


@transaction.atomic
def channel_member_remove(*, actor: User, org: Organization, channel: Channel, user: User) -> None:
    """Remove someone from a channel: oneself always; others only with the right to manage the channel."""
    _same_org(org, channel)
    if user.pk != actor.pk and not _may_manage(actor=actor, org=org, channel=channel):
        raise PermissionDenied("Only the channel's creator, or whoever may manage channels, can remove others.")
    removed, _ = ChannelMember.objects.filter(channel=channel, user=user).delete()
    if removed:
        audit_record(
            org=org, event=events.CHANNEL_MEMBER_REMOVED, actor=actor, target=channel,
            metadata={"user_id": user.pk, "user": user.email},
        )  # fmt: skip


@transaction.atomic
def message_post(*, actor: User, org: Organization, channel: Channel, body: str) -> Message:
    """Post a message in a channel the actor belongs to (joining a public channel by posting in it)."""
    _same_org(org, channel)
    require_perm(user=actor, org=org, perm=MESSAGES_POST)
    if not channel_readable(user=actor, org=org, channel=channel):
        raise PermissionDenied("You are not a member of this channel.")
    if channel.is_archived:
        raise Conflict("The channel is archived; messages cannot be posted.")
    ChannelMember.objects.get_or_create(organization=org, channel=channel, user=actor)
    message = Message.objects.create(organization=org, channel=channel, author=actor, body=_clean_body(body))
    # Message bodies stay out of the audit trail: it records that something was said, not what.
    audit_record(org=org, event=events.MESSAGE_POSTED, actor=actor, target=_message_target(message))
    _plugin_event(org, "message.posted", actor, channel_id=channel.pk, message_id=message.pk, author_id=actor.pk,
                  body=message.body)  # fmt: skip
    track(analytics_events.MESSAGE_POSTED, org=org, user=actor, channel=channel)
    return message


def _plugin_event(org: Organization, event: str, actor, **payload) -> None:
    """Tell the organization's plugins after commit (plugins.runtime); a plugin's own doings are not echoed."""
    from plugins.runtime import events_emit, source_installation

    events_emit(org=org, event=event, payload=payload, source_installation_id=source_installation(actor))


def _message_target(message: Message) -> Target:
    return Target("chat.message", str(message.pk), f"message {message.pk} in channel {message.channel_id}")


@transaction.atomic
def message_edit(*, actor: User, org: Organization, message: Message, body: str) -> Message:
    """Change one's own message."""
    _same_org(org, message)
    if message.author_id != actor.pk:
        raise PermissionDenied("Only the author can edit a message.")
    if message.deleted is not None:
        raise Conflict("The message was deleted.")
    message.body = _clean_body(body)
    message.edited = timezone.now()
    message.save(update_fields=["body", "edited"])
    audit_record(
        org=org, event=events.MESSAGE_EDITED, actor=actor, target=_message_target(message),
        metadata={"edited": message.edited.isoformat()},
    )  # fmt: skip
    return message


@transaction.atomic
def message_delete(*, actor: User, org: Organization, message: Message) -> None:
    """Soft-delete a message (its author, or whoever may delete any message). Doing it twice is harmless."""
    _same_org(org, message)
    if message.author_id != actor.pk:  # a moderator: delete_any org-wide or on the message's channel
        require_perm(user=actor, org=org, perm=MESSAGES_DELETE_ANY, obj=message.channel)
    if Message.objects.filter(pk=message.pk, deleted__isnull=True).update(deleted=timezone.now()):
        audit_record(
            org=org, event=events.MESSAGE_DELETED, actor=actor, target=_message_target(message),
            metadata={"author_id": message.author_id},
        )  # fmt: skip
