"""Reads: the marketplace catalogue (what an organization may see) and an organization's installations."""

from django.db.models import Avg, Count, Prefetch, Q, QuerySet

from accounts.models import Organization
from plugins.models import Installation, Plugin, PluginVersion
from plugins.services.catalogue import builtins_sync


def listings(*, org: Organization | None = None, query: str = "", category: str = "", capability: str = "") -> QuerySet:
    """Plugins with at least one approved version (or private to `org`), with their rating; filterable."""
    builtins_sync()
    visible = Q(private_to__isnull=True)
    if org is not None:
        visible |= Q(private_to=org)
    rows = (
        Plugin.objects.filter(visible, versions__status=PluginVersion.Status.APPROVED)
        .distinct()
        .select_related("publisher")
        .annotate(rating=Avg("reviews__rating"), review_count=Count("reviews", distinct=True))
        .order_by("name")
    )
    if query:
        rows = rows.filter(Q(name__icontains=query) | Q(description__icontains=query) | Q(plugin_id__icontains=query))
    if category:
        rows = rows.filter(category=category)
    if capability:
        rows = (
            rows.filter(capabilities__contains=[capability])
            if _json_contains()
            else rows.filter(capabilities__icontains=f'"{capability}"')
        )
    return rows


def _json_contains() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def listing_get(*, plugin_id: str, org: Organization | None = None) -> Plugin | None:
    builtins_sync()
    visible = Q(private_to__isnull=True) | Q(private_to=org) if org is not None else Q(private_to__isnull=True)
    return (
        Plugin.objects.filter(visible, plugin_id=plugin_id)
        .select_related("publisher")
        .prefetch_related(Prefetch("versions", queryset=PluginVersion.objects.order_by("-created")))
        .first()
    )


def installations_of(*, org: Organization) -> QuerySet[Installation]:
    return (
        Installation.objects.for_org(org)
        .select_related("plugin", "version", "pending_version", "service_user")
        .prefetch_related("channels")
        .order_by("plugin__name")
    )
