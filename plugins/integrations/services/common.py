"""Helpers the integration services share: the permission check, tokens, the bot identity, posting."""

import hashlib
import secrets

from django.conf import settings
from django.db import transaction

from accounts.models import Membership, Organization, User
from chatapp.kernel import outbound

BOT_EMAIL_DOMAIN = "bots.chatapp.invalid"


def require_manage(actor, org) -> None:
    """Integrations send the organization's data to other tools: owners (org.manage) configure them."""
    from accounts.permissions import ORG_MANAGE
    from rbac.services import require_perm

    require_perm(user=actor, org=org, perm=ORG_MANAGE)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def policy(**overrides) -> outbound.Policy:
    """The outbound policy of every integration request (operator allowlist and ports from settings)."""
    return outbound.Policy.from_settings(
        allow_private=settings.INTEGRATIONS_ALLOW_PRIVATE, user_agent="chatapp-integrations/1", **overrides
    )


@transaction.atomic
def bot_user(*, org: Organization, slug: str, name: str) -> User:
    """The integration's bot in this organization: one user per integration per organization, a plain member
    (messages.post, public channels) who cannot log in (no usable password, an address in a reserved domain).
    Messages it posts go through chat's message_post like anyone's, so they are audited with the bot as actor."""
    email = f"{slug}-bot.{org.slug}@{BOT_EMAIL_DOMAIN}"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User(email=email, full_name=f"{name} (bot)")
        user.set_unusable_password()
        user.save()
    Membership.objects.get_or_create(organization=org, user=user, defaults={"role": Membership.Role.MEMBER})
    return user


def post_as_bot(*, installation, channel, body: str):
    """Post into a channel as the installation's bot (chat's one write path; it checks the bot may post there)."""
    from chatapp.chat.services import MESSAGE_MAX_LENGTH, message_post

    if len(body) > MESSAGE_MAX_LENGTH:
        body = body[: MESSAGE_MAX_LENGTH - 1] + "…"
    return message_post(actor=installation.bot_user, org=installation.organization, channel=channel, body=body)
