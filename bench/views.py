"""The bare baseline: the message list without DRF, doing the same access work honestly.

Same session user as the API (401 when anonymous), the same org membership check (404 for a non-member,
as the API answers), the channel must belong to the org and be readable, and the same 50 newest live messages
with their authors. What it leaves out is DRF itself: view set, serializers, pagination, throttling.
"""

from django.db.models import Q
from django.http import JsonResponse

from accounts.models import Membership
from chatapp.chat.models import Channel, Message

PAGE_SIZE = 50
FIELDS = ("id", "channel_id", "author_id", "author__email", "author__full_name", "body", "created", "edited")


def _problem(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"status": status, "detail": detail}, status=status)


def baseline_messages(request, org_slug: str, channel_pk: int) -> JsonResponse:
    user = request.user
    if not user.is_authenticated:
        return _problem(401, "Log in first.")
    memberships = Membership.objects.filter(user=user, is_active=True, organization__is_active=True)
    membership = memberships.filter(organization__slug=org_slug).values_list("organization_id", "role")
    membership = membership.first()
    if membership is None:
        return _problem(404, "Not found.")
    org_id, role = membership
    # As the API: public channels are readable by every role but guests; otherwise channel members only.
    may_read = Q(memberships__user=user)
    if role != Membership.Role.GUEST:
        may_read |= Q(is_private=False)
    readable = Channel.objects.filter(may_read, pk=channel_pk, organization_id=org_id).exists()
    if not readable:
        return _problem(404, "Not found.")
    rows = (
        Message.objects.filter(organization_id=org_id, channel_id=channel_pk, deleted__isnull=True)
        .order_by("-id")
        .values(*FIELDS)[:PAGE_SIZE]
    )
    return JsonResponse({"results": list(rows)})
