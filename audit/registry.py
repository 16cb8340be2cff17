"""The audit event catalogue: stable numeric ids, dotted names, a category and a human template.

Apps declare their events in their own audit_events.py with `declare(...)`. The numeric id is what exports and
SIEM rules key on, so it never changes and is never reused; the registry refuses duplicates of either.
"""

from dataclasses import dataclass

from django.db import models

from chatapp.kernel.registry import Registry, RegistryError


class Category(models.TextChoices):
    USER_ACTION = "user_action", "User action"
    API_CALL = "api_call", "API call"
    DATA_CHANGE = "data_change", "Data change"
    SYSTEM_EVENT = "system_event", "System event"
    SECURITY = "security", "Security"


@dataclass(frozen=True)
class AuditEventType:
    code: int
    name: str
    category: str
    template: str  # "{actor} archived channel {target}": rendered with actor and target labels

    @property
    def key(self) -> str:
        return self.name

    def __str__(self):
        return self.name

    def render(self, *, actor: str, target: str) -> str:
        return self.template.format(actor=actor or "system", target=target or "")


class EventRegistry(Registry[AuditEventType]):
    def __init__(self):
        super().__init__("audit event")
        self._codes: dict[int, str] = {}

    def register(self, entry: AuditEventType) -> AuditEventType:
        if entry.code in self._codes:
            raise RegistryError(
                f"audit event id {entry.code} is used by both {self._codes[entry.code]!r} and {entry.name!r}"
            )
        if entry.category not in Category.values:
            raise RegistryError(f"audit event {entry.name!r} has unknown category {entry.category!r}")
        super().register(entry)
        self._codes[entry.code] = entry.name
        return entry


events = EventRegistry()


def declare(code: int, name: str, category: str, template: str) -> AuditEventType:
    return events.register(AuditEventType(code, name, category, template))
