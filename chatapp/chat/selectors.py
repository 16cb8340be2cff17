"""Reads of the chat core: always one organization, always filtered to what the caller may see."""

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import Organization, User
from chatapp.chat.models import Channel, ChannelMember, Message
from chatapp.chat.permissions import CHANNELS_VIEW, CHANNELS_VIEW_PRIVATE
from rbac.services import granted_resources, has_perm
from rbac.services.access import IdIn


def _is_member(user: User, channel_ref: str = "pk"):
    return Exists(ChannelMember.objects.filter(channel=OuterRef(channel_ref), user=user))


def _visible(*, user: User, org: Organization):
    """The organization's channels the user may see, annotated with `is_member` (no other work)."""
    channels = Channel.objects.for_org(org).annotate(is_member=_is_member(user))
    if has_perm(user=user, org=org, perm=CHANNELS_VIEW_PRIVATE):
        return channels
    # Private channels granted one by one: a subquery on the grant table inside this query (never a list of
    # ids in Python: a user may hold thousands).
    granted = granted_resources(user=user, org=org, perm=CHANNELS_VIEW_PRIVATE, model=Channel)
    if has_perm(user=user, org=org, perm=CHANNELS_VIEW):
        # Public channels are most of them: walking the newest rows finds a page at once.
        return channels.filter(Q(is_member=True) | Q(is_private=False) | Q(pk__in=granted))
    # Only the channels they belong to or were granted: one id set, so the page is fetched by those ids whatever
    # the size of the table (see rbac.services.access.IdIn).
    mine = ChannelMember.objects.filter(organization=org, user=user).order_by().values("channel_id")
    return channels.filter(IdIn(F("pk"), mine.union(granted, all=True)))


def channels_visible_to(*, user: User, org: Organization) -> QuerySet[Channel]:
    """Channels the user may see: public ones (except for guests), the ones they belong to, and private ones on
    which they hold `channels.view_private` (org-wide, or granted on that channel). Annotated with `is_member`
    and `member_count`."""
    # A per-row subquery rather than JOIN + GROUP BY: the page's 50 rows are counted once found, and the plan can
    # stop after 50 rows instead of joining and sorting every candidate first.
    members = ChannelMember.objects.filter(channel=OuterRef("pk")).order_by().values("channel").annotate(n=Count("pk"))
    return _visible(user=user, org=org).annotate(member_count=Coalesce(Subquery(members.values("n")), 0))


def channel_visible_to(*, user: User, org: Organization, pk: int) -> Channel | None:
    """One channel by id if the user may see it (no member count: the cheap lookup for nested routes)."""
    return _visible(user=user, org=org).filter(pk=pk).first()


def channel_readable(*, user: User, org: Organization, channel: Channel) -> bool:
    """Whether the user may read the channel's messages: a member, or anyone allowed to view public ones."""
    if not channel.is_private and has_perm(user=user, org=org, perm=CHANNELS_VIEW):
        return True
    return ChannelMember.objects.filter(channel=channel, user=user).exists()


def _readable_messages(*, user: User, org: Organization) -> QuerySet[Message]:
    messages = Message.objects.for_org(org).filter(deleted__isnull=True).select_related("author")
    member = _is_member(user, "channel_id")
    if has_perm(user=user, org=org, perm=CHANNELS_VIEW):
        return messages.filter(Q(channel__is_private=False) | member)
    return messages.filter(member)


# Only the author columns the API shows (not the password hash and the rest of the user row).
_AUTHOR_FIELDS = ("author__id", "author__email", "author__full_name")


def messages_of_channel(*, user: User, org: Organization, channel: Channel) -> QuerySet[Message]:
    """The channel's live messages; the caller checked `channel_readable` first."""
    return (
        Message.objects.for_org(org)
        .filter(channel=channel, deleted__isnull=True)
        .select_related("author")
        .only("id", "organization_id", "channel_id", "author_id", "body", "created", "edited", *_AUTHOR_FIELDS)
    )


def messages_readable_by(*, user: User, org: Organization) -> QuerySet[Message]:
    """Every live message in the channels the user may read (for lookups by id)."""
    return _readable_messages(user=user, org=org)


def message_search(*, user: User, org: Organization, text: str) -> QuerySet[Message]:
    """Messages containing `text` (case-insensitive) in channels the user may read."""
    return _readable_messages(user=user, org=org).filter(body__icontains=text)


def channel_members(*, channel: Channel) -> QuerySet[ChannelMember]:
    return ChannelMember.objects.for_org(channel.organization_id).filter(channel=channel).select_related("user")
