"""Faults: searches killed with SIGKILL at chosen and random moments lose and duplicate nothing.

Each kill comes from inside the searching process (see ``_driver.py``): during a shard
write, before and after a manifest update, during a checkpoint, the plan or the weight
checksums, or after a random delay. After every kill the search is simply started again;
the end state must equal an uninterrupted search bit for bit.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from landscape.store import RunStore
from tests.reliability.conftest import assert_same_masks, drive, listed_pairs, only_run, search_job

WEIGHT_SEEDS, SEARCH_SEEDS = [0, 1], [0, 1, 2]  # masks in flight 2: four batches, four shards
ALL_PAIRS = sorted((w, s) for w in WEIGHT_SEEDS for s in SEARCH_SEEDS)

# (label, kill) in the order they strike one runs root; each restart resumes the previous one
KILLS = [
    ("while writing plan.json", {"on": "write", "file": "plan.json", "nth": 1}),
    ("while renaming the 2nd checkpoint", {"on": "replace", "file": "*.pt", "nth": 2}),
    ("half-way through a shard's packed rows", {"on": "write", "file": "shard-*.bin", "nth": 1}),
    ("before the manifest rename", {"on": "replace", "file": "manifest.json", "nth": 1}),
    ("just after the manifest rename", {"on": "replace", "file": "manifest.json", "nth": 1, "after": True}),
    ("while writing weights.json", {"on": "write", "file": "weights.json", "nth": 1}),
    ("half-way through a shard's records", {"on": "write", "file": "shard-*.json", "nth": 1}),
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> RunStore:
    """The same search, never interrupted."""
    tmp = tmp_path_factory.mktemp("reference")
    (result,) = drive(tmp, [search_job(tmp / "runs", WEIGHT_SEEDS, SEARCH_SEEDS)])
    assert result["ended"] == "ok" and result["done"] == len(ALL_PAIRS), result
    return only_run(tmp / "runs")


def test_kills_at_every_write_then_restart_equal_an_uninterrupted_search(tmp_path, reference):
    root = tmp_path / "runs"
    jobs = [search_job(root, WEIGHT_SEEDS, SEARCH_SEEDS, kill) for _, kill in KILLS]
    jobs.append(search_job(root, WEIGHT_SEEDS, SEARCH_SEEDS))  # the final, undisturbed restart
    results = drive(tmp_path, jobs)
    for (label, _), result in zip(KILLS, results):
        assert result["ended"] == "killed", f"the kill {label!r} never fired: {result}"
    assert results[-1]["ended"] == "ok", results[-1]
    store = only_run(root)
    assert_same_masks(store, reference)
    # masks stored before a kill were kept: the last run searched only what was left
    assert results[-1]["skipped"] > 0
    _assert_leftovers_are_inert(store)


def test_kills_at_random_moments_then_restart_equal_an_uninterrupted_search(tmp_path, reference):
    root = tmp_path / "runs"
    delays = np.random.default_rng(20240607).uniform(0.05, 1.5, size=4)
    jobs = [search_job(root, WEIGHT_SEEDS, SEARCH_SEEDS, {"on": "timer", "delay": float(d)}) for d in delays]
    jobs.append(search_job(root, WEIGHT_SEEDS, SEARCH_SEEDS))
    results = drive(tmp_path, jobs)
    assert all(r["ended"] in ("killed", "ok") for r in results), results
    assert results[-1]["ended"] == "ok", results[-1]
    assert_same_masks(only_run(root), reference)


def test_killed_search_with_other_batch_sizes_resumes_to_the_same_masks(tmp_path, reference):
    # the restart batches masks differently: an orphaned checkpoint must not leak into it
    root = tmp_path / "runs"
    kill = {"on": "replace", "file": "*.pt", "nth": 3}
    results = drive(tmp_path, [search_job(root, WEIGHT_SEEDS, SEARCH_SEEDS, kill, masks_in_flight=3),
                               search_job(root, WEIGHT_SEEDS, SEARCH_SEEDS, masks_in_flight=1)])  # fmt: skip
    assert [r["ended"] for r in results] == ["killed", "ok"]
    assert_same_masks(only_run(root), reference)


def _assert_leftovers_are_inert(store: RunStore) -> None:
    """What a kill can leave behind is never counted, and never taken for a live search."""
    listed = {e["name"] for e in store.manifest()["shards"]}
    on_disk = {p.name.split(".")[0] for p in (store.path / "shards").glob("shard-*")}
    assert listed <= on_disk
    assert store.n_masks == len(listed_pairs(store)) == len(ALL_PAIRS)
    finished = store.finished()
    # a checkpoint or claim can only survive for masks that were stored in the same breath
    for ckpt in (store.path / "checkpoints").glob("*.pt"):
        w, seeds = re.fullmatch(r"w(\d+)-s([\d-]+)\.pt", ckpt.name).groups()
        assert {(int(w), int(s)) for s in seeds.split("-")} <= finished, ckpt.name
    for claim in (store.path / "claims").iterdir():
        w, s = re.fullmatch(r"w(\d+)-s(\d+)", claim.name).groups()
        assert (int(w), int(s)) in finished, claim.name
    assert store.status() == "complete"
