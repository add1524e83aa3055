"""Run the tiles of an all-pairs count job: in this process or on the sweep executors.

A :class:`TileJob` pairs a :class:`~landscape.tl._tilestore.TileStore` (the folder) with the
rows it reads. :meth:`TileJob.compute` works through tiles range by range, holding one
range's panel of rows at a time, and stores each finished tile atomically; tiles already
stored are skipped, so a killed job resumes where it stopped. :meth:`TileJob.run` hands the
pending tiles to local worker processes or a submitit job array as :class:`TileUnit` s
(plain picklable records run by :func:`run_tile_unit`); workers share nothing but the job
folder, and the merged counts do not depend on who computed which tile.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landscape.errors import AnalysisError
from landscape.tl import _kernels
from landscape.tl._tiles import PANEL_SHARE, Tile, TilePlan, scratch_bytes
from landscape.tl._tilestore import JOB, TileStore, job_key

INLINE = "inline"  # compute in this process


class RowReader:
    """Row blocks x word ranges of :class:`~landscape.store.rows.PackedRows` as contiguous
    uint64 arrays, read straight from the memory maps (only the pages asked for)."""

    def __init__(self, packed_rows):
        self.rows = packed_rows

    def block(self, r0: int, r1: int, w0: int, w1: int) -> np.ndarray:
        src, pos = self.rows.src[r0:r1], self.rows.pos[r0:r1]
        out = np.empty((r1 - r0, (w1 - w0) * 8), dtype=np.uint8)
        for s in np.unique(src):
            sel = np.flatnonzero(src == s)
            p = pos[sel]
            source = self.rows.sources[s]
            if len(p) and np.array_equal(p, np.arange(p[0], p[0] + len(p))):  # a run of rows: one slice
                out[sel] = source[p[0] : p[0] + len(p), w0 * 8 : w1 * 8]
            else:
                out[sel] = source[p, w0 * 8 : w1 * 8]
        return out.view(np.uint64)


def tile_counts(
    a: np.ndarray, b: np.ndarray | None, bounds: np.ndarray, route: str, device, scratch: int
) -> np.ndarray:
    """``I[i, j, l]`` between two row blocks over local layer ``bounds`` (``b=None``: ``a`` with
    itself), by ``route``; a CPU GEMM unpacks at most ``scratch`` bytes of columns at a time."""
    if route == "numba":
        from landscape.tl._numba import pair_counts

        return pair_counts(a, b, bounds)
    if route == "numpy":
        return _kernels.cross_numpy(a, a if b is None else b, bounds)
    from landscape.tl._gemm import cross_gemm

    # on the CPU the unpacked columns count against the budget (on a GPU they live there)
    on_gpu = device is not None and str(device).startswith("cuda")
    return cross_gemm(
        a, b, bounds, route=route, device=device, **({} if on_gpu else {"memory_bytes": scratch})
    )


@dataclass(frozen=True)
class TileUnit:
    """Some tiles of one job, for one worker."""

    job: str
    tiles: tuple[str, ...]
    backend: str = "auto"
    device: str | None = None
    threads: int | None = None

    @property
    def label(self) -> str:
        first, last = self.tiles[0], self.tiles[-1]
        return f"tiles {first}..{last} of {Path(self.job).name}" if len(self.tiles) > 1 else f"tile {first}"


def run_tile_unit(unit: TileUnit):
    """Compute the unit's tiles that are not stored yet (what every executor runs)."""
    from landscape.errors import LandscapeError
    from landscape.search.units import UnitResult
    from landscape.store.claims import make_owner

    worker = make_owner("tiles")
    if unit.threads:
        import numba

        numba.set_num_threads(max(1, min(unit.threads, numba.config.NUMBA_NUM_THREADS)))
    result = UnitResult(unit, worker=worker)
    try:
        job = TileJob.open(unit.job)
        tiles = [Tile.parse(name) for name in unit.tiles]
        result.done = job.compute(tiles, unit.backend, unit.device, worker=worker)
        result.skipped = len(tiles) - result.done
    except LandscapeError as exc:
        result.error = f"{unit.label}: {exc}"
    return result


class TileJob:
    """An all-pairs count job over the rows of a MaskSet, stored in a folder."""

    def __init__(self, store: TileStore, rows):
        self.store, self.rows = store, rows
        self.reader = RowReader(rows)

    @property
    def plan(self) -> TilePlan:
        return self.store.plan

    @property
    def folder(self) -> Path:
        return self.store.folder

    @classmethod
    def prepare(
        cls,
        ms,
        root: str | Path,
        memory: int,
        block_rows: int | None = None,
        range_words: int | None = None,
    ) -> TileJob:
        """The job of ``ms``'s rows under ``root`` (its folder is named by the job key):
        created with a plan for ``memory`` bytes (or the given geometry), or reopened with
        the plan it was made with (an error if that plan needs more than ``memory``)."""
        key, rows = job_key(ms.X, ms.layout)
        if (Path(root) / key / JOB).exists():  # resuming: the plan of the finished tiles holds
            store = TileStore.open(Path(root) / key)
            held = store.plan.panel_bytes(store.accounting)
            if held > memory * PANEL_SHARE:
                need = math.ceil(held / PANEL_SHARE / 2**20)
                raise AnalysisError(
                    f"tile job {store.folder} was planned for more memory: resuming it needs "
                    f"memory >= {need:,} MiB (or remove the folder to start over)"
                )
        else:
            bounds = _kernels.layer_bounds(ms.layout)
            plan = TilePlan.for_budget(len(ms), bounds, memory, block_rows, range_words)
            store = TileStore.create(root, key, plan, ms.layout)
        store.write_rows(rows, ms.X)
        return cls(store, ms.X)

    @classmethod
    def open(cls, folder: str | Path) -> TileJob:
        store = TileStore.open(folder)
        return cls(store, store.open_rows())

    # tiles --------------------------------------------------------------------------------
    def pending(self) -> list[Tile]:
        done = self.store.finished()
        return [t for t in self.plan.tiles() if t.name not in done]

    def compute(
        self,
        tiles: Sequence[Tile],
        backend: str = "auto",
        device: str | None = None,
        worker: str = "",
        on_tile: Callable[[Tile], None] | None = None,
        progress=None,
    ) -> int:
        """Compute and store those of ``tiles`` not stored yet; returns how many were computed."""
        route = _kernels.resolve_backend(backend, device)
        worker = worker or f"pid{os.getpid()}"
        done = self.store.finished()
        todo = [t for t in tiles if t.name not in done]
        blocks, ranges = self.plan.blocks(), self.plan.ranges()
        scratch = scratch_bytes(self.plan.block_rows, self.plan.range_words)
        panel: dict[int, np.ndarray] = {}
        current = None
        for tile in todo:
            if tile.range_index != current:  # a new panel: the previous range's rows are dropped
                panel, current = {}, tile.range_index
            w0, w1 = ranges[tile.range_index]
            for b in (tile.bi, tile.bj):
                if b not in panel:
                    panel[b] = self.reader.block(*blocks[b], w0, w1)
            _, local = self.plan.layers(tile.range_index)
            other = None if tile.bi == tile.bj else panel[tile.bj]
            counts = tile_counts(panel[tile.bi], other, local, route, device, scratch)
            self.store.save(tile, counts, worker)
            if on_tile is not None:
                on_tile(tile)
            if progress is not None:
                progress.update(1)
        return len(todo)

    def units(self, parts: int, backend: str, device, threads: int | None) -> list[TileUnit]:
        """The pending tiles as about ``parts`` units or more, each within one word range."""
        by_range: dict[int, list[Tile]] = {}
        for t in self.pending():
            by_range.setdefault(t.range_index, []).append(t)
        per_range = max(1, math.ceil(parts / max(1, len(by_range))))
        units = []
        for tiles in by_range.values():
            size = math.ceil(len(tiles) / per_range)
            for start in range(0, len(tiles), size):
                names = tuple(t.name for t in tiles[start : start + size])
                units.append(TileUnit(str(self.folder), names, backend, device, threads))
        return units

    def run(
        self,
        executor: str | None = None,
        workers: int | None = None,
        backend: str = "auto",
        device: str | None = None,
        progress: bool = False,
        on_tile: Callable[[Tile], None] | None = None,
        **options,
    ) -> int:
        """Compute every pending tile; returns how many were computed.

        ``executor``: ``None`` (this process), ``"local"`` (``workers`` spawned processes) or
        a submitit executor (``"slurm"``, ``"submitit-local"``, ``"debug"``, with the sweep's
        cluster ``options``). Failed units raise :class:`AnalysisError` after the others ran;
        their tiles are computed by the next run.
        """
        if options and executor in (None, INLINE, "local"):
            raise AnalysisError(
                f"unexpected option {sorted(options)[0]!r} (cluster options need a submitit executor)"
            )
        pending = self.pending()
        if not pending:
            return 0
        if executor in (None, INLINE):
            bar = _progress(len(pending), progress)
            try:
                return self.compute(pending, backend, device, on_tile=on_tile, progress=bar)
            finally:
                if bar is not None:
                    bar.close()
        results = _execute(self, executor, workers, backend, device, options)
        failed = [r for r in results if r.error]
        if failed:
            raise AnalysisError(
                f"{len(failed)} tile unit(s) failed; first: {failed[0].error.strip().splitlines()[-1]}"
            )
        return sum(r.done for r in results)

    # merging ------------------------------------------------------------------------------
    def merge(self, whole: np.ndarray, layers: np.ndarray | None, backend: str = "auto", device=None) -> None:
        """Add every tile's counts into ``whole`` (int64 ``(n, n)``) and ``layers`` (int64
        ``(n, n, L)`` or None), both zero on entry. A missing or damaged tile is computed here."""
        stored = self.store.finished()
        blocks = self.plan.blocks()
        for tile in self.plan.tiles():
            counts = None
            if tile.name in stored:
                loaded = self.store.load(stored[tile.name])
                counts = None if loaded is None else loaded[0]
            if counts is None:
                self.compute([tile], backend, device)
                counts = self.store.load(self.store.finished()[tile.name])[0]
            (i0, i1), (j0, j1) = blocks[tile.bi], blocks[tile.bj]
            l0, local = self.plan.layers(tile.range_index)
            l1 = l0 + len(local) - 1
            summed = counts.sum(axis=2, dtype=np.int64)
            whole[i0:i1, j0:j1] += summed
            if tile.bi != tile.bj:
                whole[j0:j1, i0:i1] += summed.T
            if layers is not None:
                layers[i0:i1, j0:j1, l0:l1] += counts
                if tile.bi != tile.bj:
                    layers[j0:j1, i0:i1, l0:l1] += counts.transpose(1, 0, 2)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="distance tiles", unit="tile")


def _execute(job: TileJob, executor: str, workers, backend, device, options) -> list:
    from landscape.search import executors as ex

    if executor not in ex.EXECUTORS:
        raise AnalysisError(f"executor={executor!r}: choose from {', '.join((INLINE, *ex.EXECUTORS))}")
    if executor == "local":
        gpus, device = ex.gpu_plan(device)
        n = workers or max(1, len(gpus)) or 1
        threads = max(1, ex.default_threads() // n)
        units = job.units(n, backend, device, threads)
        return ex.run_pool(units, n, gpus, fn=run_tile_unit)
    parallel = int(options.get("array_parallelism") or workers or 1)
    units = job.units(parallel, backend, device, None)
    from landscape.search.submitit_jobs import run_array

    return run_array(executor, run_tile_unit, units, job.folder / ".submitit", "tiles", options)
