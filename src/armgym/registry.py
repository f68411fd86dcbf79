"""One generic registry: name -> record, with closest-match errors for unknown names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from armgym.errors import ArmgymError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """An ordered mapping from names to records of one kind (robots, tasks, policies).

    ``get`` raises :class:`UnknownNameError` naming the closest registered name.
    Lookup is case-insensitive; the canonical name is the one registered.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._canonical: dict[str, str] = {}

    def register(self, name: str, record: T) -> T:
        key = name.lower()
        if key in self._items:
            raise ArmgymError(f"{self.kind} {name!r} is already registered")
        self._items[key] = record
        self._canonical[key] = name
        return record

    def get(self, name: str) -> T:
        try:
            return self._items[name.lower()]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._canonical.values()) from None

    def names(self) -> list[str]:
        """Registered names as they were registered (canonical spelling)."""
        return list(self._canonical.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._canonical.values())

    def __len__(self) -> int:
        return len(self._items)


def check_choice(kind: str, value: str, valid: tuple[str, ...] | list[str]) -> str:
    """Return ``value`` if it is one of ``valid``, else raise naming the closest one."""
    if value not in valid:
        raise UnknownNameError(kind, value, valid)
    return value
