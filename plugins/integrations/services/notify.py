"""Notifications to chat tools outside chatapp (Slack in Block Kit, Teams as Adaptive Cards).

`notify(org=..., title=..., text=...)` is the seam other apps call (a report delivered, an alert): it sends to
every enabled Slack and Teams installation of the organization that has a destination configured, and never
raises: a failing tool is logged and reported back, the caller's work goes on.
"""

import logging
from importlib import import_module

from chatapp.kernel import outbound
from plugins.integrations.models import Installation

logger = logging.getLogger(__name__)
NOTIFIERS = ("slack", "teams")


def notify_one(installation: Installation, *, title: str, text: str, url: str = "") -> str:
    """Send to one installation; returns "" or the reason it failed (safe to show: no secrets, no URLs)."""
    handlers = import_module(f"plugins.integrations.{installation.integration}.handlers")
    if installation.integration not in NOTIFIERS:
        return "This integration does not send notifications."
    try:
        handlers.send(installation, title=title, text=text, url=url)
    except (outbound.OutboundError, ValueError) as exc:
        logger.warning("notification failed", extra={"integration": installation.integration, "error": str(exc)})
        return str(exc)[:300]
    return ""


def notify(*, org, title: str, text: str, url: str = "") -> dict[str, str]:
    """Send to every enabled notifier of the organization; {integration: error or ""}."""
    installations = Installation.objects.for_org(org).filter(integration__in=NOTIFIERS, enabled=True)
    return {i.integration: notify_one(i, title=title, text=text, url=url) for i in installations}
