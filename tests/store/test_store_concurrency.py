"""Several processes writing one run: every mask stored exactly once, manifest valid."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np

from landscape.config import SearchConfig
from landscape.store.layout import Layout
from landscape.store.packing import pack_flat
from landscape.store.run_store import RunStore

LAYOUT = Layout([("fcs.0", (7, 9)), ("fcs.1", (2, 7))])
CFG = SearchConfig().replace(**{"model.hidden": [7], "train.epochs": 1})
N_PAIRS = 24


def expected_rows() -> np.ndarray:
    dense = np.random.default_rng(7).random((N_PAIRS, LAYOUT.n_weights)) < 0.3
    return pack_flat(dense, LAYOUT)


def worker(root: str, rank: int, start, done) -> int:
    """Create (or join) the run, plan, and store overlapping batches of masks."""
    start.wait()
    store = RunStore.create(Path(root), CFG, LAYOUT)
    rows = expected_rows()
    store.add_plan([(0, s) for s in range(rank, N_PAIRS, 2)])
    added = 0
    # every worker stores all pairs, in a rotated order and in batches of 5: lots of overlap
    order = np.roll(np.arange(N_PAIRS), 6 * rank)
    for lo in range(0, N_PAIRS, 5):
        idx = order[lo : lo + 5]
        recs = [{"weight_seed": 0, "search_seed": int(i), "test_acc": float(rank)} for i in idx]
        added += store.write_masks(rows[idx], recs)
    done.put(added)
    return added


def test_concurrent_writers_store_each_mask_once(tmp_path):
    ctx = mp.get_context("fork")
    start, done = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(str(tmp_path), r, start, done)) for r in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    added = [done.get(timeout=5) for _ in procs]
    assert sum(added) == N_PAIRS

    (run_dir,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left
    store = RunStore.open(run_dir)
    assert store.status() == "complete"
    assert store.plan() == {(0, s) for s in range(N_PAIRS)}
    table = store.records()
    assert sorted(table["search_seed"]) == list(range(N_PAIRS))
    rows = store.read_rows()
    np.testing.assert_array_equal(rows, expected_rows()[table["search_seed"].to_numpy()])
    # shards that lost every race were removed; every listed file verifies
    listed = {e["name"] for e in store.manifest()["shards"]}
    on_disk = {p.stem for p in (run_dir / "shards").glob("shard-*.bin")}
    assert listed == on_disk
    store.verify()
    assert not list(run_dir.glob(".*lock"))
