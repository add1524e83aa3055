"""Out-of-core distances: tiled, resumed and distributed routes equal scipy bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from landscape import tl
from landscape.config import SearchConfig
from landscape.errors import AnalysisError
from landscape.maskset import MaskSet
from landscape.reading import read_runs
from landscape.store.layout import Layout
from landscape.store.packing import pack_flat
from landscape.store.run_store import RunStore
from landscape.tl._tilejob import TileJob
from landscape.tl._tiles import Tile, TilePlan, parse_memory
from tests.tl.conftest import ODD_LAYOUT

BASE = SearchConfig().replace(**{"model.hidden": [4, 3], "train.epochs": 2})
MEMORY = 1 << 20


def special_masks(n: int = 11, seed: int = 5) -> np.ndarray:
    """Random masks of many densities with empty, all-ones and duplicated ones; ``n`` odd."""
    rng = np.random.default_rng(seed)
    dense = rng.random((n, ODD_LAYOUT.n_weights)) < rng.uniform(0.02, 0.98, size=(n, 1))
    dense[1] = False
    dense[2] = False
    dense[3] = True
    dense[n - 1] = dense[0]
    return dense


def write_runs(root, dense: np.ndarray):
    """A real runs root holding ``dense`` in two shards of unequal size."""
    store = RunStore.create(root, BASE, ODD_LAYOUT)
    pairs = [(0, s) for s in range(len(dense))]
    store.add_plan(pairs)
    records = [{"weight_seed": w, "search_seed": s, "test_acc": 0.5} for w, s in pairs]
    cut = len(dense) // 3
    store.write_masks(pack_flat(dense[:cut], ODD_LAYOUT), records[:cut])
    store.write_masks(pack_flat(dense[cut:], ODD_LAYOUT), records[cut:])
    return root


@pytest.fixture
def masks_root(tmp_path):
    dense = special_masks()
    return write_runs(tmp_path / "runs", dense), dense


def scipy_slots(dense: np.ndarray) -> dict[str, np.ndarray]:
    """What every route must return, from scipy on the unpacked masks."""
    x = dense.astype(bool)
    out = {
        "dist_jaccard": squareform(pdist(x, "jaccard")),
        "dist_hamming": squareform(pdist(x, "hamming")),
        "intersection": x.astype(np.int64) @ x.T.astype(np.int64),
    }
    jac, ham, inter, start = [], [], [], 0
    for spec in ODD_LAYOUT:
        part = x[:, start : start + spec.numel]
        start += spec.numel
        jac.append(squareform(pdist(part, "jaccard")))
        ham.append(squareform(pdist(part, "hamming")))
        inter.append(part.astype(np.int64) @ part.T.astype(np.int64))
    out["dist_jaccard_layers"] = np.stack(jac, axis=2)
    out["dist_hamming_layers"] = np.stack(ham, axis=2)
    out["intersection_layers"] = np.stack(inter, axis=2)
    return out


def assert_same(ms, expected: dict[str, np.ndarray]) -> None:
    for key, value in expected.items():
        np.testing.assert_array_equal(np.asarray(ms.obsp[key]), value, err_msg=key)


def small_job(ms, root, block_rows: int = 3, range_words: int = 2) -> TileJob:
    """A job with many tiles at small N: blocks of 3 rows, word ranges of 2 words."""
    return TileJob.prepare(ms, root, MEMORY, block_rows=block_rows, range_words=range_words)


# geometry ---------------------------------------------------------------------------------------


def test_plan_covers_every_pair_and_word_once():
    plan = TilePlan(n=10, bounds=(0, 2, 3, 5, 8), block_rows=3, range_words=3)
    seen = np.zeros((10, 10, 8), dtype=int)
    for tile in plan.tiles():
        (i0, i1), (j0, j1) = plan.blocks()[tile.bi], plan.blocks()[tile.bj]
        w0, w1 = plan.ranges()[tile.range_index]
        seen[i0:i1, j0:j1, w0:w1] += 1
        if tile.bi != tile.bj:
            seen[j0:j1, i0:i1, w0:w1] += 1
        l0, local = plan.layers(tile.range_index)
        assert local[0] == 0 and local[-1] == w1 - w0
        assert plan.bounds[l0] <= w0 < plan.bounds[l0 + 1]
        assert Tile.parse(tile.name) == tile
    assert (seen == 1).all()


def test_budget_sets_the_panel_and_small_budgets_are_refused():
    bounds = (0, 1000, 175_000)
    plan = TilePlan.for_budget(4096, bounds, parse_memory("2GB"))
    assert plan.panel_bytes() <= 0.5 * 2e9
    assert plan.block_rows == 512 and len(plan.ranges()) > 1
    with pytest.raises(AnalysisError, match="too small for 4,096 masks"):
        TilePlan.for_budget(4096, bounds, parse_memory("1MB"))
    assert parse_memory("512MiB") == 512 * 2**20 and parse_memory(1000) == 1000
    with pytest.raises(AnalysisError, match="memory='lots'"):
        parse_memory("lots")


# the tiled route --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numba", "numpy", "int8", "float32"])
def test_tiled_distances_equal_scipy_bit_for_bit(masks_root, tmp_path, backend):
    """Runs root -> memory-mapped shards -> tiles -> merged counts, on every CPU route (the
    torch routes run the chunked GEMM the GPU route runs, on the CPU)."""
    root, dense = masks_root
    ms = read_runs(root)
    job = small_job(ms, tmp_path / "tiles")
    assert len(job.plan.tiles()) == 4 * 10  # 4 word ranges x 10 block pairs
    tl.distances(ms, per_layer=True, tiles=tmp_path / "tiles", memory=MEMORY, backend=backend)
    assert_same(ms, scipy_slots(dense))
    record = ms.uns["distances"]["tiles"]
    assert record["computed_tiles"] == 40 and record["tiles"] == str(job.folder)


def test_tiled_equals_in_memory_on_odd_sizes_and_results_on_disk(tmp_path):
    """Budgets too small for the per-layer matrices put them in memory-mapped files in the
    job folder; every value still equals the in-memory route."""
    dense = special_masks(n=7, seed=9)
    ms = read_runs(write_runs(tmp_path / "runs", dense))
    ref = ms.copy()
    tl.distances(ref, metric=("jaccard", "hamming", "matching"), per_layer=True)
    small_job(ms, tmp_path / "tiles", block_rows=2, range_words=5)
    tl.distances(ms, metric=("jaccard", "hamming", "matching"), per_layer=True, tiles=tmp_path / "tiles",
                 memory=6_000)  # fmt: skip
    for key, value in ref.obsp.items():
        np.testing.assert_array_equal(np.asarray(ms.obsp[key]), value, err_msg=key)
    on_disk = ms.uns["distances"]["tiles"]["on_disk"]
    assert any(p.endswith("intersection_layers.npy") for p in on_disk)
    assert isinstance(ms.obsp["intersection_layers"], np.memmap)
    assert not isinstance(ms.obsp["intersection"], np.memmap)


def test_temporary_job_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    dense = special_masks(n=5)
    ms = read_runs(write_runs(tmp_path / "runs", dense))
    tl.distances(ms, per_layer=True, memory=MEMORY)
    assert_same(ms, scipy_slots(dense))
    assert not list(tmp_path.glob("landscape-tiles-*"))


def test_executor_needs_the_out_of_core_route(masks_root):
    ms = read_runs(masks_root[0])
    with pytest.raises(AnalysisError, match="pass memory= or tiles="):
        tl.distances(ms, executor="local", workers=2)
    with pytest.raises(AnalysisError, match="unexpected option 'tile'"):
        tl.distances(ms, memory=MEMORY, tile="x")


# resuming ---------------------------------------------------------------------------------------

KILLED_JOB = textwrap.dedent(
    """
    import sys, time
    from landscape.reading import read_runs
    from landscape.tl._tilejob import TileJob

    ms = read_runs(sys.argv[1])
    job = TileJob.prepare(ms, sys.argv[2], 1 << 20, block_rows=2, range_words=1)
    job.run(on_tile=lambda tile: time.sleep(0.15))
    """
)


def _tile_files(folder):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (folder / "tiles").glob("r*.npz")}


def test_killed_job_resumes_and_recomputes_no_finished_tile(masks_root, tmp_path):
    root, dense = masks_root
    tiles = tmp_path / "tiles"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_JOB, str(root), str(tiles)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            folders = list(tiles.glob("*/tiles"))
            if folders and len(list(folders[0].glob("r*.npz"))) >= 6:
                break
            assert proc.poll() is None, "the job finished or died before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ms = read_runs(root)
    job = TileJob.prepare(ms, tiles, MEMORY)  # the stored plan, not one for this budget
    total = len(job.plan.tiles())
    before = _tile_files(job.folder)
    assert 6 <= len(before) < total
    tl.distances(ms, per_layer=True, tiles=tiles, memory=MEMORY)
    assert ms.uns["distances"]["tiles"]["computed_tiles"] == total - len(before)
    after = _tile_files(job.folder)
    assert {name: after[name] for name in before} == before  # finished tiles untouched
    assert len(after) == total
    assert_same(ms, scipy_slots(dense))
    # a second call computes nothing
    tl.distances(ms, per_layer=True, tiles=tiles, memory=MEMORY)
    assert ms.uns["distances"]["tiles"]["computed_tiles"] == 0


def test_damaged_tile_is_reported_and_recomputed(masks_root, tmp_path):
    root, dense = masks_root
    ms = read_runs(root)
    job = small_job(ms, tmp_path / "tiles")
    job.run()
    victim = sorted((job.folder / "tiles").glob("r*.npz"))[5]
    data = bytearray(victim.read_bytes())
    data[-30] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=victim.name):
        tl.distances(ms, per_layer=True, tiles=tmp_path / "tiles", memory=MEMORY)
    assert_same(ms, scipy_slots(dense))
    assert len(list((job.folder / "tiles").glob("r*.npz"))) == len(job.plan.tiles())


def test_tiles_of_another_plan_are_never_merged(masks_root, tmp_path):
    """A job.json replaced (removed, then the job made again for another budget) leaves
    tiles whose names the new plan also uses but whose rows differ: recomputed, not merged."""
    root, dense = masks_root
    ms = read_runs(root)
    old = small_job(ms, tmp_path / "tiles", block_rows=3, range_words=2)
    old.run()
    (old.folder / "job.json").unlink()
    new = small_job(ms, tmp_path / "tiles", block_rows=4, range_words=2)
    assert new.folder == old.folder and new.plan != old.plan
    assert {t.name for t in new.plan.tiles()} & set(new.store.finished())  # names shared
    with pytest.warns(UserWarning, match="tile of another plan of this job"):
        tl.distances(ms, per_layer=True, tiles=tmp_path / "tiles", memory=MEMORY)
    assert_same(ms, scipy_slots(dense))


def test_damaged_rows_saved_in_a_job_are_refused_by_workers_and_rewritten(tmp_path):
    from landscape.maskset import MaskSet

    dense = special_masks(n=7, seed=3)
    ms = MaskSet.from_dense(dense, ODD_LAYOUT)  # rows in memory: saved into the job
    job = small_job(ms, tmp_path / "tiles")
    (saved,) = job.folder.glob("rows-*.bin")
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(AnalysisError, match=rf"{saved}: rows of tile job .* are damaged"):
        TileJob.open(job.folder)  # what a worker process does
    small_job(ms, tmp_path / "tiles")  # the coordinator writes them again
    worker = TileJob.open(job.folder)
    np.testing.assert_array_equal(np.asarray(worker.rows.sources[0]), np.asarray(ms.X.sources[0]))


def test_job_key_follows_masks_order_and_content(masks_root, tmp_path):
    root, _ = masks_root
    ms = read_runs(root)
    a = small_job(ms, tmp_path / "tiles")
    assert small_job(read_runs(root), tmp_path / "tiles").folder == a.folder
    assert small_job(ms[::-1], tmp_path / "tiles").folder != a.folder
    assert small_job(ms[:5], tmp_path / "tiles").folder != a.folder


def test_resuming_with_less_memory_than_the_plan_is_refused(masks_root, tmp_path):
    ms = read_runs(masks_root[0])
    TileJob.prepare(ms, tmp_path / "tiles", 1 << 30)
    with pytest.raises(AnalysisError, match="planned for more memory"):
        TileJob.prepare(ms, tmp_path / "tiles", 8 << 10)


# distributed ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("one_thread_workers")
def test_two_local_workers_share_the_tiles_of_one_job(masks_root, tmp_path):
    root, dense = masks_root
    ms = read_runs(root)
    job = small_job(ms, tmp_path / "tiles")
    tl.distances(ms, per_layer=True, tiles=tmp_path / "tiles", memory=MEMORY, executor="local", workers=2)
    assert_same(ms, scipy_slots(dense))
    workers = {job.store.load(path)[1] for path in job.store.finished().values()}
    assert len(workers) >= 2  # both processes computed tiles
    assert all(":tiles" in w and str(os.getpid()) not in w.split(":")[1] for w in workers)
    assert ms.uns["distances"]["tiles"]["computed_tiles"] == len(job.plan.tiles())


def test_submitit_debug_executor_runs_the_tiles(masks_root, tmp_path):
    root, dense = masks_root
    ms = read_runs(root)
    small_job(ms, tmp_path / "tiles")
    tl.distances(ms, per_layer=True, tiles=tmp_path / "tiles", memory=MEMORY, executor="debug")
    assert_same(ms, scipy_slots(dense))


@pytest.mark.gpu
def test_cuda_tiles_equal_scipy(masks_root, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    root, dense = masks_root
    ms = read_runs(root)
    small_job(ms, tmp_path / "tiles")
    tl.distances(ms, per_layer=True, tiles=tmp_path / "tiles", memory=MEMORY, device="cuda")
    assert ms.uns["distances"]["params"]["backend"] == "int8"
    assert_same(ms, scipy_slots(dense))


def test_a_tile_job_holds_its_budget_and_never_copies_the_rows(tmp_path):
    """In-memory rows larger than the budget: the job key and the rows saved into the job read
    them in place, a range's tiles stay within the plan's working bytes, and the whole call
    (merge, metrics) within the budget. tracemalloc sees numpy's allocations, and every array
    of the numba route is numpy's."""
    import tracemalloc

    layout = Layout([("a", (64, 1024)), ("b", (256, 1024)), ("c", (10, 256))])
    rng = np.random.default_rng(0)
    ms = MaskSet.from_dense(rng.random((512, layout.n_weights), dtype=np.float32) < 0.3, layout)
    budget = 16_000_000
    assert ms.X.sources[0].nbytes > budget  # a copy of the rows would break the budget alone
    backend = "numba"
    tl.distances(ms[:4], per_layer=True, memory=budget, backend=backend)  # compiled outside
    tracemalloc.start()
    try:
        job = TileJob.prepare(ms, tmp_path / "job", budget)
        assert tracemalloc.get_traced_memory()[1] < budget / 8
        tracemalloc.reset_peak()
        job.run(backend=backend)
        assert tracemalloc.get_traced_memory()[1] <= job.plan.panel_bytes() <= budget / 2
        tracemalloc.reset_peak()
        tl.distances(
            ms, metric="jaccard", per_layer=True, memory=budget, tiles=tmp_path / "job", backend=backend
        )
        assert tracemalloc.get_traced_memory()[1] <= budget
    finally:
        tracemalloc.stop()
    assert isinstance(ms.obsp["intersection_layers"], np.memmap)  # beyond the share for results


def test_the_plans_accounting_follows_the_numba_kernels_row_blocks():
    from landscape.tl import _numba, _tiles

    assert _tiles.KERNEL_ROW_BLOCK == _numba.ROW_BLOCK
    assert _tiles.TILE_SCRATCH_BYTES >= _numba.CHUNK_BYTES


def test_a_job_planned_under_the_first_accounting_resumes_under_its_budget(tmp_path):
    """A job.json without ``accounting`` priced only the panel and the tile's counts: it
    resumes under the budget it was planned for (its finished tiles kept), while the same
    plan recorded under the current accounting is refused at that budget."""
    import json

    rng = np.random.default_rng(1)
    ms = MaskSet.from_dense(rng.random((64, ODD_LAYOUT.n_weights)) < 0.4, ODD_LAYOUT)
    budget = 2 * (8 * 64 * 4 + 12 * 32**2 * len(ODD_LAYOUT))  # the first accounting, exactly
    for legacy in (True, False):
        root = tmp_path / str(legacy)
        job = TileJob.prepare(ms, root, 10**9, block_rows=32, range_words=4)
        job.run()
        path = job.folder / "job.json"
        if legacy:
            data = json.loads(path.read_text())
            del data["accounting"]
            path.write_text(json.dumps(data))
        if legacy:
            resumed = TileJob.prepare(ms, root, budget)
            assert resumed.pending() == [] and resumed.plan == job.plan
        else:
            with pytest.raises(AnalysisError, match="was planned for more memory"):
                TileJob.prepare(ms, root, budget)
