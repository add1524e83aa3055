"""Named registries (models, datasets, methods, figures) with did-you-mean errors."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from landscape.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to objects that explains unknown names.

    Parameters
    ----------
    kind
        What the entries are ("model", "dataset", ...); used in error messages.
    field
        The config field that selects an entry (``"model.name"``), named in errors.
    """

    def __init__(self, kind: str, field: str | None = None) -> None:
        self.kind = kind
        self.field = field or f"{kind}.name"
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        known = sorted(self._entries)
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{self.field}: unknown {self.kind} {name!r}{hint} (known: {', '.join(known)})"

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)
