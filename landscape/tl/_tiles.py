"""The tiles of an all-pairs count job: row blocks x word ranges, sized by a memory budget.

A job over ``n`` packed rows of ``n_words`` words is cut into word ranges (all rows of one
range are held together, the *panel*) and row blocks; a tile is one range and one pair of
blocks ``bi <= bj``. Its result is ``I[i, j, l]`` for the rows of the two blocks and the
layers that overlap the range (clipped to it), so summing the tiles over ranges gives the
per-layer counts and summing those over layers the whole-network counts, exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass

import numpy as np

from landscape.errors import AnalysisError

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
PANEL_SHARE = 0.5  # of the budget for the panel (the rest: tile buffers, results held in memory)
MIN_RANGE_WORDS = 64
# working memory of a tile kernel beside the panel: the numba route's chunk buffers
# (``_numba.CHUNK_BYTES``) or the unpacked columns of the CPU GEMM routes
TILE_SCRATCH_BYTES = 16 << 20
# how a plan prices its working memory (recorded in job.json): 1 counted the panel and the
# tile's counts only; 2 adds the block copies, assembled block pairs, GEMM accumulators and
# the kernel scratch. A job planned under 1 resumes under the budget it was planned for.
ACCOUNTING = 2
KERNEL_ROW_BLOCK = 512  # _numba.ROW_BLOCK: rows per block of the numba route's large products
DEFAULT_BLOCKS = 8  # row blocks per side when n is large: 36 tiles per word range


def parse_memory(memory) -> int:
    """Bytes from an int or a string such as ``"2GB"``, ``"512MiB"``, ``"1.5G"`` (GB = 10**9,
    GiB = 2**30)."""
    if isinstance(memory, (int, np.integer)) and not isinstance(memory, bool):
        value = int(memory)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(memory))
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise AnalysisError(f"memory={memory!r}: expected bytes or a size such as '2GB' or '512MiB'")
        value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise AnalysisError(f"memory={memory!r}: must be positive")
    return value


@dataclass(frozen=True)
class Tile:
    """Word range ``range_index`` between row blocks ``bi <= bj``."""

    range_index: int
    bi: int
    bj: int

    @property
    def name(self) -> str:
        return f"r{self.range_index:05d}-{self.bi:05d}-{self.bj:05d}"

    @classmethod
    def parse(cls, name: str) -> Tile:
        r, bi, bj = (int(part.lstrip("rb")) for part in name.split("-"))
        return cls(r, bi, bj)


@dataclass(frozen=True)
class TilePlan:
    """Geometry of a job: ``n`` rows, layer word ``bounds``, ``block_rows`` and ``range_words``."""

    n: int
    bounds: tuple[int, ...]
    block_rows: int
    range_words: int

    @classmethod
    def for_budget(
        cls,
        n: int,
        bounds,
        memory: int,
        block_rows: int | None = None,
        range_words: int | None = None,
    ) -> TilePlan:
        """The plan whose panel (all rows of one word range) fits ``PANEL_SHARE`` of ``memory``.

        Word ranges are as wide as the panel allows (each row is then read once per job);
        ``block_rows`` defaults to an eighth of the rows (at least 256), so a job has enough
        tiles to resume from and to share between workers.
        """
        bounds = tuple(int(b) for b in bounds)
        n_words = bounds[-1] - bounds[0]
        if block_rows is None:
            block_rows = max(256, -(-n // DEFAULT_BLOCKS))
        block_rows = max(1, min(int(block_rows), max(n, 1)))
        if range_words is None:
            range_words = _widest_range(n, block_rows, len(bounds) - 1, int(memory * PANEL_SHARE))
            if range_words < MIN_RANGE_WORDS:
                need = _working_bytes(n, block_rows, MIN_RANGE_WORDS, len(bounds) - 1) / PANEL_SHARE
                raise AnalysisError(
                    f"memory={memory:,} bytes is too small for {n:,} masks: the tiles need at least "
                    f"{math.ceil(need / 2**20):,} MiB"
                )
            range_words = range_words // MIN_RANGE_WORDS * MIN_RANGE_WORDS
        range_words = max(1, min(int(range_words), max(n_words, 1)))
        return cls(int(n), bounds, block_rows, range_words)

    # geometry ---------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.bounds) - 1

    def ranges(self) -> list[tuple[int, int]]:
        lo, hi = self.bounds[0], self.bounds[-1]
        return [(w, min(w + self.range_words, hi)) for w in range(lo, hi, self.range_words)]

    def blocks(self) -> list[tuple[int, int]]:
        return [(r, min(r + self.block_rows, self.n)) for r in range(0, self.n, self.block_rows)]

    def tiles(self) -> list[Tile]:
        """Every tile, range by range (a worker then loads each range's panel once)."""
        nb = len(self.blocks())
        return [
            Tile(r, bi, bj) for r in range(len(self.ranges())) for bi in range(nb) for bj in range(bi, nb)
        ]

    def layers(self, range_index: int) -> tuple[int, np.ndarray]:
        """First layer overlapping a word range and the layers' bounds clipped to the range,
        relative to its first word: ``(l0, local_bounds)``."""
        w0, w1 = self.ranges()[range_index]
        b = np.asarray(self.bounds, dtype=np.int64)
        l0 = int(np.searchsorted(b, w0, side="right") - 1)
        l1 = int(np.searchsorted(b, w1, side="left"))
        local = np.clip(b[l0 : l1 + 1], w0, w1) - w0
        return l0, local

    def panel_bytes(self, accounting: int = ACCOUNTING) -> int:
        """What one process holds while it computes the tiles of a range (as ``accounting``
        priced it: a job planned under the first one is checked as it was planned)."""
        if accounting < 2:
            return 8 * self.n * self.range_words + 12 * self.block_rows**2 * self.n_layers
        return _working_bytes(self.n, self.block_rows, self.range_words, self.n_layers)

    def tile_shape(self, tile: Tile) -> tuple[int, int, int]:
        """The shape of a tile's counts: rows of block ``bi``, of block ``bj``, layers of its range."""
        blocks = self.blocks()
        (i0, i1), (j0, j1) = blocks[tile.bi], blocks[tile.bj]
        return i1 - i0, j1 - j0, len(self.layers(tile.range_index)[1]) - 1

    def digest(self) -> str:
        """Names this geometry in every tile file, so that no tile is merged under another plan."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]

    # serialisation ----------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"n": self.n, "bounds": list(self.bounds), "block_rows": self.block_rows,
                "range_words": self.range_words}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> TilePlan:
        return cls(int(data["n"]), tuple(int(b) for b in data["bounds"]), int(data["block_rows"]),
                   int(data["range_words"]))  # fmt: skip


# bytes of kernel scratch per word of a range and row of a block: the int8 GEMM's unpacked
# columns (a byte a bit); numba's chunk buffers take 8, and the float32 GEMM (5 bytes a
# bit) is given the plan's scratch to chunk its columns by
_SCRATCH_PER_WORD_ROW = 64


def scratch_bytes(block_rows: int, range_words: int) -> int:
    """The kernel scratch of one tile: it grows with the range up to ``TILE_SCRATCH_BYTES``."""
    return min(TILE_SCRATCH_BYTES, _SCRATCH_PER_WORD_ROW * 2 * block_rows * range_words)


def _working_bytes(n: int, block_rows: int, range_words: int, n_layers: int) -> int:
    """What one process holds while it computes the tiles of a range: the panel, the GPU
    route's zero-padded host copy of a tile's two blocks, the tile's buffers and the kernel's
    scratch."""
    copies = 8 * (n + 2 * block_rows) * range_words
    return copies + _tile_buffer_bytes(block_rows, n_layers) + scratch_bytes(block_rows, range_words)


def _widest_range(n: int, block_rows: int, n_layers: int, share: int) -> int:
    """The most words per range whose working bytes fit ``share`` (the scratch grows with the
    range until it reaches its cap, so both regimes are solved and the wider taken)."""
    fixed = share - _tile_buffer_bytes(block_rows, n_layers)
    per_word = 8 * (n + 2 * block_rows)
    capped = (fixed - TILE_SCRATCH_BYTES) // per_word
    growing = fixed // (per_word + _SCRATCH_PER_WORD_ROW * 2 * block_rows)
    return max(capped, growing, 0)


def _tile_buffer_bytes(block_rows: int, n_layers: int) -> int:
    # per tile: its int64 counts and their uint32 copy for the file; a block pair's int64
    # counts while the numba route assembles blocks of more than KERNEL_ROW_BLOCK rows; the
    # GEMM routes' int32 product and int64 accumulator of one layer
    pairs = block_rows * block_rows
    assembled = 8 * KERNEL_ROW_BLOCK**2 * n_layers if block_rows > KERNEL_ROW_BLOCK else 0
    return pairs * n_layers * 12 + assembled + pairs * 12
