"""Reads of the integrations app: org-scoped, one query per list."""

from plugins.integrations.models import Delivery, IncomingWebhook, Installation, WebhookEndpoint


def installations_of(*, org):
    return Installation.objects.for_org(org).order_by("integration")


def endpoints_of(*, org):
    return WebhookEndpoint.objects.for_org(org).order_by("name")


def deliveries_of(*, org, endpoint_id=None, status=None, event_type=None, since=None, until=None):
    """The delivery log, newest first, with the event (one query per page)."""
    queryset = Delivery.objects.for_org(org).select_related("event")
    if endpoint_id is not None:
        queryset = queryset.filter(endpoint_id=endpoint_id)
    if status:
        queryset = queryset.filter(status=status)
    if event_type:
        queryset = queryset.filter(event__event_type=event_type)
    if since is not None:
        queryset = queryset.filter(created__gte=since)
    if until is not None:
        queryset = queryset.filter(created__lt=until)
    return queryset


def incoming_of(*, org):
    return IncomingWebhook.objects.for_org(org).order_by("name")
