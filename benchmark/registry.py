"""One generic registry for tasks, models and metrics.

Registering a name twice raises; looking up an unknown name raises with the nearest
registered names. Third-party entries can come from a Python entry-point group: they are
listed by name without importing anything and loaded only when asked for. A registry whose
items register themselves on import can be given ``locate(name)``, which imports only what
registers ``name``, so that looking up one item does not import all of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from benchmark.errors import NameClashError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object mapping with clash detection, suggestions and lazy entry points."""

    def __init__(
        self,
        kind: str,
        entry_point_group: str | None = None,
        populate: Callable[[], None] | None = None,
        coerce: Callable[[str, object], T] | None = None,
        locate: Callable[[str], None] | None = None,
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._populate = populate
        self._populated = populate is None
        self._lazy: dict[str, EntryPoint] | None = None
        self._coerce = coerce
        self._locate = locate

    def register(self, name: str, item: T) -> T:
        if name in self._items or name in self._entry_points():
            raise NameClashError(f"{self.kind} {name!r} is already registered; pick another name")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        if name not in self._items and not self._populated and self._locate is not None:
            self._locate(name)
        if name in self._items:
            return self._items[name]
        self._ensure_populated()
        if name in self._items:
            return self._items[name]
        entry_point = self._entry_points().get(name)
        if entry_point is not None:
            loaded = entry_point.load()
            item = self._coerce(name, loaded) if self._coerce else loaded
            self._items[name] = item
            return item
        raise UnknownNameError(self._unknown_message(name))

    def names(self) -> list[str]:
        self._ensure_populated()
        return sorted(set(self._items) | set(self._entry_points()))

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"unknown {self.kind} {name!r}{hint} (known: {', '.join(self.names()) or 'none'})"

    def _ensure_populated(self) -> None:
        if not self._populated and self._populate is not None:
            self._populated = True
            self._populate()

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self.entry_point_group is None:
            return {}
        if self._lazy is None:
            self._lazy = {ep.name: ep for ep in entry_points(group=self.entry_point_group)}
        return self._lazy
