"""Layout: the ordered maskable parameters of a model and where their bits sit in a packed row."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from landscape.errors import StoreError

WORD_BITS = 64  # every layer starts on a 64-bit word so a layer is a slice of uint64 words


@dataclass(frozen=True)
class LayerSpec:
    """One maskable parameter: its name, shape, size and bit offset in a packed row."""

    name: str
    shape: tuple[int, ...]
    numel: int
    offset: int  # first bit of this layer in the row (multiple of 64)

    @property
    def padded_bits(self) -> int:
        return math.ceil(self.numel / WORD_BITS) * WORD_BITS

    @property
    def word_slice(self) -> slice:
        """The uint64 words of a packed row that hold this layer."""
        start = self.offset // WORD_BITS
        return slice(start, start + self.padded_bits // WORD_BITS)

    @property
    def byte_slice(self) -> slice:
        start = self.offset // 8
        return slice(start, start + self.padded_bits // 8)


class Layout:
    """Ordered maskable layers with 64-bit aligned offsets.

    Two layouts are equal when names and shapes agree in order; that is the condition
    for comparing masks bit by bit.
    """

    def __init__(self, layers: Iterable[tuple[str, Sequence[int]]]) -> None:
        specs: list[LayerSpec] = []
        offset = 0
        for name, shape in layers:
            shape = tuple(int(s) for s in shape)
            numel = math.prod(shape)
            if numel <= 0:
                raise ValueError(f"layer {name!r} has no weights (shape {shape})")
            spec = LayerSpec(name=str(name), shape=shape, numel=numel, offset=offset)
            specs.append(spec)
            offset += spec.padded_bits
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names repeat: {names}")
        self.layers: tuple[LayerSpec, ...] = tuple(specs)
        self.row_bits = offset
        self._index = {s.name: i for i, s in enumerate(specs)}

    # sizes ------------------------------------------------------------------------------
    @property
    def n_weights(self) -> int:
        return sum(s.numel for s in self.layers)

    @property
    def row_bytes(self) -> int:
        return self.row_bits // 8

    @property
    def row_words(self) -> int:
        return self.row_bits // WORD_BITS

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.layers]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, key: int | str) -> LayerSpec:
        if isinstance(key, str):
            if key not in self._index:
                raise KeyError(f"unknown layer {key!r}; layers are {self.names}")
            return self.layers[self._index[key]]
        return self.layers[key]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and [(s.name, s.shape) for s in self] == [
            (s.name, s.shape) for s in other
        ]

    def __hash__(self) -> int:
        return hash(tuple((s.name, s.shape) for s in self))

    def __repr__(self) -> str:
        return f"Layout({len(self)} layers, {self.n_weights:,} weights)"

    def difference(self, other: Layout) -> str:
        """A one-line description of the first way two layouts differ."""
        if len(self) != len(other):
            return f"{len(self)} layers vs {len(other)} layers"
        for a, b in zip(self, other):
            if (a.name, a.shape) != (b.name, b.shape):
                return f"layer {a.name!r} {a.shape} vs {b.name!r} {b.shape}"
        return "no difference"

    # serialisation ----------------------------------------------------------------------
    def to_json(self) -> list[dict]:
        return [{"name": s.name, "shape": list(s.shape), "numel": s.numel, "offset": s.offset} for s in self]

    @classmethod
    def from_json(cls, data: list[dict], source: str = "layout") -> Layout:
        if not isinstance(data, list) or not data:
            raise StoreError(f"{source}: malformed layout (expected a non-empty list of layers)")
        for i, d in enumerate(data):
            # strict types: a damaged file must not be read as a different, plausible network
            ok = isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("shape"), list)
            if not ok or not all(type(n) is int for n in d["shape"]) or type(d.get("offset", 0)) is not int:
                raise StoreError(
                    f"{source}: malformed layout (layer {i} needs a name, integer shape and offset)"
                )
        try:
            layout = cls((d["name"], d["shape"]) for d in data)
        except ValueError as exc:
            raise StoreError(f"{source}: malformed layout ({exc})") from None
        for spec, d in zip(layout, data):
            if "offset" in d and d["offset"] != spec.offset:
                raise StoreError(f"{source}: layer {spec.name!r} offset does not match its shapes")
        return layout

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1)
