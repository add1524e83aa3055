"""PackedRows: packed mask rows gathered from several arrays (shard memory maps) on demand.

Each mask is a (source array, row) pair; sources are read-only memory maps of shards (or
in-memory arrays), so subsetting and concatenating never copy mask data until asked to.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class PackedRows:
    """Packed rows ``uint8 (n, row_bytes)`` held as indices into source arrays.

    Parameters
    ----------
    sources
        Arrays ``uint8 (n_i, row_bytes)``; never written to.
    src, pos
        For each row: which source and which row of it.
    row_bytes
        Bytes per packed row.
    """

    def __init__(self, sources: Sequence[np.ndarray], src: np.ndarray, pos: np.ndarray, row_bytes: int):
        self.sources = list(sources)
        self.src = np.asarray(src, dtype=np.int32)
        self.pos = np.asarray(pos, dtype=np.int64)
        self.row_bytes = int(row_bytes)
        if self.src.shape != self.pos.shape or self.src.ndim != 1:
            raise ValueError("src and pos must be 1-d arrays of equal length")

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray], row_bytes: int) -> PackedRows:
        """All rows of ``arrays``, in order."""
        src = np.concatenate([np.full(len(a), i, dtype=np.int32) for i, a in enumerate(arrays)] or [[]])
        pos = np.concatenate([np.arange(len(a), dtype=np.int64) for a in arrays] or [[]])
        return cls(arrays, src, pos, row_bytes)

    @classmethod
    def concat(cls, parts: Sequence[PackedRows]) -> PackedRows:
        sources: list[np.ndarray] = []
        srcs, poss = [], []
        for part in parts:
            srcs.append(part.src + len(sources))
            poss.append(part.pos)
            sources.extend(part.sources)
        row_bytes = parts[0].row_bytes if parts else 0
        return cls(sources, np.concatenate(srcs or [[]]), np.concatenate(poss or [[]]), row_bytes)

    # shape ------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.src), self.row_bytes)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    @property
    def nbytes(self) -> int:
        return len(self.src) * self.row_bytes

    def __len__(self) -> int:
        return len(self.src)

    def __repr__(self) -> str:
        return f"PackedRows({len(self)} x {self.row_bytes} bytes from {len(self.sources)} arrays)"

    # access -----------------------------------------------------------------------------------
    def subset(self, idx: np.ndarray) -> PackedRows:
        """The rows at positions ``idx`` (no data copied)."""
        return PackedRows(self.sources, self.src[idx], self.pos[idx], self.row_bytes)

    def materialize(self, idx: np.ndarray | None = None) -> np.ndarray:
        """The rows (all, or at positions ``idx``) as one ``uint8 (n, row_bytes)`` array."""
        src = self.src if idx is None else self.src[idx]
        pos = self.pos if idx is None else self.pos[idx]
        whole = self._whole_source(src, pos)
        if whole is not None:
            return np.asarray(whole)
        out = np.empty((len(src), self.row_bytes), dtype=np.uint8)
        for s in np.unique(src):
            sel = np.flatnonzero(src == s)
            out[sel] = self.sources[s][pos[sel]]
        return out

    def _whole_source(self, src: np.ndarray, pos: np.ndarray) -> np.ndarray | None:
        # the common case of one full shard in order: hand out the map itself
        if len(src) == 0 or src[0] != src[-1] or len(self.sources[src[0]]) != len(src):
            return None
        if np.all(src == src[0]) and np.array_equal(pos, np.arange(len(pos))):
            return self.sources[src[0]]
        return None

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        rows = self.materialize()
        return rows if dtype is None else rows.astype(dtype)
