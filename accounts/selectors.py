"""Reads about users, organizations and memberships."""

from django.db.models import QuerySet

from accounts.models import Membership, Organization, User


def membership_for_slug(*, user: User, org_slug: str) -> Membership | None:
    """The caller's active membership in an active organization, or None (which the API answers with 404)."""
    if not user.is_authenticated:
        return None
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=user, is_active=True, organization__slug=org_slug, organization__is_active=True)
        .first()
    )
    key_org_id = getattr(user, "api_key_org_id", None)
    if membership is not None and key_org_id is not None and membership.organization_id != key_org_id:
        return None  # an API key works in its own organization only; others look like they do not exist
    if membership is not None:
        membership.user = user  # the request's user object, so memos on it are shared
    return membership


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, is_active=True, organization__is_active=True)
        .order_by("organization__name")
    )


def members_of(*, organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user")
