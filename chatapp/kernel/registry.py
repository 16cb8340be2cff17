"""The one registry class for catalogues declared in code (permissions, audit events, stats, features...).

Each app declares its entries next to its code; the registry refuses duplicates and, once the apps are
ready, refuses new entries, so the catalogue is fixed for the life of the process.
"""

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar


class Entry(Protocol):
    @property
    def key(self) -> str: ...


E = TypeVar("E", bound=Entry)


class RegistryError(Exception):
    pass


class Registry(Generic[E]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, E] = {}
        self._frozen = False

    def register(self, entry: E) -> E:
        if self._frozen:
            raise RegistryError(f"{self.kind} {entry.key!r} declared after start-up; declare it at import time")
        if entry.key in self._entries:
            raise RegistryError(f"{self.kind} {entry.key!r} is declared twice")
        self._entries[entry.key] = entry
        return entry

    def freeze(self) -> None:
        self._frozen = True

    def __getitem__(self, key: str) -> E:
        try:
            return self._entries[key]
        except KeyError:
            raise RegistryError(f"unknown {self.kind} {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter(sorted(self._entries.values(), key=lambda entry: entry.key))

    def __len__(self) -> int:
        return len(self._entries)
