"""The catalogue of exportable models, declared in code: one `exportable(...)` per model, next to its app's code.

An app declares its entries in `<app>/portability.py` (imported on first use by autodiscovery, like audit_events
and permissions); nothing else needs changing for a model to travel in the archive:

    from accounts.services.portability.registry import exportable

    exportable(
        "reports.Schedule",
        fields=("report", "cron", "recipients", "created_by", "created"),
        refs={"report": "reports.report", "created_by": "accounts.user"},
        secrets=("signing_key",),
    )

Rules the import relies on: `fields` are model field names (a foreign key by its name, e.g. "channel"); every
foreign key in `fields` is listed in `refs` with the entry it points at, so its id is remapped on import; a
reference to an entry of the same model (a team's parent) is set after all its rows exist. The import order is
derived from `refs` (plus `after`), so declarations may appear in any order. `secrets` documents the columns that
must never leave the instance: declaring one in `fields` too is refused at start-up.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from django.apps import apps
from django.db import models

from chatapp.kernel.registry import Registry, RegistryError


@dataclass(frozen=True)
class Exportable:
    """One model that travels in an organization archive (see the module docstring)."""

    model: str
    fields: tuple[str, ...]
    refs: Mapping[str, str] = field(default_factory=dict)
    # {id field: type field}: a reference whose target entry is named by another column (rbac grants' resources).
    resource_refs: Mapping[str, str] = field(default_factory=dict)
    # References whose row is left out (not set to NULL) when their target is not in the archive.
    required: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    # Exported only in the operator's full-migration mode (password hashes).
    full_migration_fields: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    # Exported only when asked for (the audit trail).
    optional: bool = False
    # The organization's rows; default: model.objects.filter(organization=org).
    rows: Callable | None = None
    # (org, rows) -> {source id: existing target id}: rows that already exist on the target (users by e-mail).
    match: Callable | None = None
    # row -> None: adjust a row just before it is created (an unusable password, a provider left disabled).
    prepare: Callable | None = None
    # (context, rows) -> None: a custom import instead of bulk creation (organization settings, audit events).
    importer: Callable | None = None
    # Rows of these entries may already be in an "empty" target organization (its owner's membership).
    allowed_in_target: bool = False
    # org -> queryset: the rows that make a target organization "not empty" (default: all of `rows`).
    target_rows: Callable | None = None
    description: str = ""

    @property
    def key(self) -> str:
        return self.model.lower()

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    @property
    def file_name(self) -> str:
        return f"data/{self.key}.jsonl"

    def queryset(self, org):
        if self.rows is not None:
            return self.rows(org)
        return self.model_class._default_manager.filter(organization=org)

    def exported_fields(self, *, full_migration: bool = False) -> tuple[str, ...]:
        return self.fields + (self.full_migration_fields if full_migration else ())

    def dependencies(self) -> set[str]:
        return {target for target in self.refs.values() if target != self.key} | set(self.after)

    def self_refs(self) -> tuple[str, ...]:
        return tuple(name for name, target in self.refs.items() if target == self.key)


_registry: Registry[Exportable] = Registry("exportable model")


def exportable(model: str, **options) -> Exportable:
    options["fields"] = tuple(options["fields"])
    for name in ("required", "secrets", "full_migration_fields", "after"):
        if name in options:
            options[name] = tuple(options[name])
    entry = Exportable(model, **options)
    leaked = set(entry.secrets) & set(entry.fields + entry.full_migration_fields)
    if leaked:
        raise RegistryError(f"{entry.key}: secret fields {sorted(leaked)} cannot be exported")
    return _registry.register(entry)


def _check(entries: Mapping[str, Exportable]) -> None:
    for entry in entries.values():
        model = entry.model_class
        for name in (*entry.fields, *entry.full_migration_fields):
            model_field = model._meta.get_field(name)
            if model_field.is_relation and name not in entry.refs:
                raise RegistryError(f"{entry.key}.{name} is a foreign key: say which entry it points at in refs")
        for name, target in entry.refs.items():
            if target not in entries:
                raise RegistryError(f"{entry.key}.{name} refers to {target!r}, which is not exportable")
        for name in entry.after:
            if name not in entries:
                raise RegistryError(f"{entry.key} comes after {name!r}, which is not exportable")


def _ordered(entries: Mapping[str, Exportable]) -> list[Exportable]:
    """Dependencies first (a topological sort; ties by key so the order is stable)."""
    done: list[Exportable] = []
    placed: set[str] = set()
    pending = dict(sorted(entries.items()))
    while pending:
        ready = [key for key, entry in pending.items() if entry.dependencies() <= placed]
        if not ready:
            raise RegistryError(f"exportable models refer to each other in a cycle: {sorted(pending)}")
        for key in ready:
            done.append(pending.pop(key))
            placed.add(key)
    return done


@cache
def exportables() -> tuple[Exportable, ...]:
    """Every declared entry, in import order (dependencies first). Loads `<app>/portability.py` of every app."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("portability")
    _registry.freeze()
    entries = {entry.key: entry for entry in _registry}
    _check(entries)
    return tuple(_ordered(entries))


def exportable_by_key() -> dict[str, Exportable]:
    return {entry.key: entry for entry in exportables()}


def selected(*, include_optional: bool) -> Iterable[Exportable]:
    return [entry for entry in exportables() if include_optional or not entry.optional]
