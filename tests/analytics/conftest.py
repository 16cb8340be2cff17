"""Helpers for analytics tests: raw events written through the same service as production, and fills."""

import uuid
from datetime import UTC, datetime

from analytics.services import events_store
from analytics.tracking import person_of
from tests.browser.conftest import browser_page  # noqa: F401  (headless Chromium for the page test)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def store(org, name, when, *, user=None, person=None, client="web", channel=None, source="server"):
    """One raw event, as track() would buffer it."""
    who = person if person is not None else person_of(getattr(user, "pk", user))
    org_id = getattr(org, "pk", org)
    return events_store(rows=[(org_id, name, when, who, getattr(channel, "pk", channel), client, None, {},
                               uuid.uuid4())], source=source)  # fmt: skip
