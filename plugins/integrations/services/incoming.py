"""Incoming webhooks: a secret URL per channel that posts as the webhooks integration's bot.

The token is the credential (like Slack's): 32 random bytes, shown once, only its SHA-256 kept. The hook posts
through chat's message_post as the bot, so every message is audited (message.posted, actor the bot) and the
chat rules hold (archived channels refuse, private channels need the bot as a member: creating a hook for a
private channel adds the bot, which needs the right to add members there).
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record, diff
from chatapp.chat.models import Channel, ChannelMember
from plugins.integrations import audit_events as events
from plugins.integrations.models import IncomingWebhook, Installation
from plugins.integrations.services.common import bot_user, digest, new_token, post_as_bot, require_manage
from plugins.integrations.webhooks.slack_format import to_markdown


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__("rate limited")
        self.retry_after = retry_after


def webhooks_installation(*, actor, org) -> Installation:
    """The organization's installation of the webhooks integration, made on first use (it has no settings)."""
    installation = Installation.objects.filter(organization=org, integration="webhooks").first()
    if installation is None:
        installation = Installation.objects.create(
            organization=org, integration="webhooks", installed_by=actor,
            bot_user=bot_user(org=org, slug="webhooks", name="Webhooks"),
        )  # fmt: skip
        audit_record(org=org, event=events.INSTALLED, actor=actor, target=installation)
    return installation


@transaction.atomic
def incoming_create(*, actor, org, name: str, channel: Channel) -> tuple[IncomingWebhook, str]:
    """Create an incoming webhook for a channel (org.manage); returns it and its URL token (shown once)."""
    require_manage(actor, org)
    if channel.organization_id != org.pk:
        raise ValidationError({"channel_id": ["Unknown channel."]})
    if not (name or "").strip():
        raise ValidationError({"name": ["Required."]})
    if channel.is_archived:
        raise ValidationError({"channel_id": ["The channel is archived."]})
    installation = webhooks_installation(actor=actor, org=org)
    if channel.is_private and not ChannelMember.objects.filter(channel=channel, user=installation.bot_user).exists():
        from chatapp.chat.services import channel_member_add

        channel_member_add(actor=actor, org=org, channel=channel, user=installation.bot_user)
    token = new_token()
    hook = IncomingWebhook.objects.create(
        organization=org, name=name.strip(), channel=channel, token_digest=digest(token), token_hint=token[-4:],
        created_by=actor,
    )  # fmt: skip
    audit_record(org=org, event=events.INCOMING_CREATED, actor=actor, target=hook,
                 changes=diff({}, {"name": hook.name, "channel_id": channel.pk}))  # fmt: skip
    return hook, token


@transaction.atomic
def incoming_delete(*, actor, org, hook: IncomingWebhook) -> None:
    require_manage(actor, org)
    audit_record(org=org, event=events.INCOMING_DELETED, actor=actor, target=hook,
                 changes=diff({"name": hook.name, "channel_id": hook.channel_id}, {}))  # fmt: skip
    IncomingWebhook.objects.filter(pk=hook.pk, organization=org).delete()


def incoming_for_token(token: str) -> IncomingWebhook | None:
    if not token or len(token) > 100:
        return None
    return (
        IncomingWebhook.objects.select_related("organization", "channel")
        .filter(token_digest=digest(token), enabled=True, organization__is_active=True)
        .first()
    )


def _rate_limit(hook: IncomingWebhook) -> None:
    """A fixed one-minute window per hook (one atomic cache increment)."""
    window = int(time.time() // 60)
    key = f"integrations:incoming:{hook.pk}:{window}"
    cache.add(key, 0, 61)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, 61)
        count = 1
    if count > settings.INTEGRATIONS_INCOMING_RATE_PER_MINUTE:
        raise RateLimited(retry_after=60 - int(time.time()) % 60)


def incoming_post(*, hook: IncomingWebhook, payload: dict):
    """Post a `{"text": ...}` or Slack-format payload into the hook's channel; returns the message."""
    _rate_limit(hook)
    if not isinstance(payload, dict):
        raise ValidationError({"text": ["Send a JSON object with text, blocks or attachments."]})
    body = to_markdown(payload)
    if not body:
        raise ValidationError({"text": ["Nothing to post: give text, blocks or attachments."]})
    installation = Installation.objects.select_related("bot_user", "organization").get(
        organization=hook.organization, integration="webhooks"
    )
    with transaction.atomic():
        message = post_as_bot(installation=installation, channel=hook.channel, body=body)
        IncomingWebhook.objects.filter(pk=hook.pk).update(last_used_at=timezone.now())
    return message
