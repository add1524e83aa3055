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


RANDOM_DELAYS = np.random.default_rng(20240607).uniform(0.05, 1.5, size=4)

# masks kept during the search: one batch of two masks, checkpoints after epochs 1 and 2 of 3
SNAPSHOTS = ["train.snapshot_every=1", "model.hidden=[16, 16]", "train.batch_size=128"]
SNAPSHOT_KILLS = [
    {"on": "replace", "file": "*.pt", "nth": 2, "after": True},  # resumes from epoch 2
    {"on": "write", "file": "w0-s*.npz", "nth": 2},  # half of the second mask's snapshot file
]


def _scenarios(tmp) -> dict[str, list[dict]]:
    """Every scenario's jobs; all run through one driver (one interpreter start)."""
    final = search_job(tmp / "chain", WEIGHT_SEEDS, SEARCH_SEEDS)
    timer = [{"on": "timer", "delay": float(d)} for d in RANDOM_DELAYS]
    return {
        "reference": [search_job(tmp / "reference", WEIGHT_SEEDS, SEARCH_SEEDS)],
        "chain": [search_job(tmp / "chain", WEIGHT_SEEDS, SEARCH_SEEDS, kill) for _, kill in KILLS] + [final],
        "random": [search_job(tmp / "random", WEIGHT_SEEDS, SEARCH_SEEDS, k) for k in timer]
        + [search_job(tmp / "random", WEIGHT_SEEDS, SEARCH_SEEDS)],
        # the restart batches masks differently: an orphaned checkpoint must not leak into it
        "rebatched": [
            search_job(
                tmp / "rebatched",
                WEIGHT_SEEDS,
                SEARCH_SEEDS,
                {"on": "replace", "file": "*.pt", "nth": 3},
                masks_in_flight=3,
            ),
            search_job(tmp / "rebatched", WEIGHT_SEEDS, SEARCH_SEEDS, masks_in_flight=1),
        ],  # fmt: skip
        "snapshots_reference": [search_job(tmp / "snapshots_reference", [0], [0, 1], extra=SNAPSHOTS)],
        "snapshots": [search_job(tmp / "snapshots", [0], [0, 1], k, extra=SNAPSHOTS) for k in SNAPSHOT_KILLS]
        + [search_job(tmp / "snapshots", [0], [0, 1], extra=SNAPSHOTS)],
    }


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> tuple:
    """(runs roots folder, {scenario: [result per job]}) after every scenario ran."""
    tmp = tmp_path_factory.mktemp("faults")
    scenarios = _scenarios(tmp)
    results = iter(drive(tmp, [job for jobs in scenarios.values() for job in jobs]))
    return tmp, {name: [next(results) for _ in jobs] for name, jobs in scenarios.items()}


@pytest.fixture(scope="module")
def reference(outcome) -> RunStore:
    """The same search, never interrupted."""
    tmp, results = outcome
    (result,) = results["reference"]
    assert result["ended"] == "ok" and result["done"] == len(ALL_PAIRS), result
    return only_run(tmp / "reference")


def test_kills_at_every_write_then_restart_equal_an_uninterrupted_search(outcome, reference):
    tmp, results = outcome
    for (label, _), result in zip(KILLS, results["chain"]):
        assert result["ended"] == "killed", f"the kill {label!r} never fired: {result}"
    last = results["chain"][-1]
    assert last["ended"] == "ok", last
    store = only_run(tmp / "chain")
    assert_same_masks(store, reference)
    # masks stored before a kill were kept: the last run searched only what was left
    assert last["skipped"] > 0 and last["done"] + last["skipped"] == len(ALL_PAIRS)
    _assert_leftovers_are_inert(store)


def test_kills_at_random_moments_then_restart_equal_an_uninterrupted_search(outcome, reference):
    tmp, results = outcome
    assert all(r["ended"] in ("killed", "ok") for r in results["random"]), results["random"]
    assert results["random"][-1]["ended"] == "ok"
    assert_same_masks(only_run(tmp / "random"), reference)


def test_killed_search_resumed_with_other_batch_sizes_gives_the_same_masks(outcome, reference):
    tmp, results = outcome
    assert [r["ended"] for r in results["rebatched"]] == ["killed", "ok"]
    assert_same_masks(only_run(tmp / "rebatched"), reference)


def test_a_killed_search_resumes_with_every_snapshot_exactly_once(outcome):
    tmp, results = outcome
    assert [r["ended"] for r in results["snapshots"]] == ["killed", "killed", "ok"], results["snapshots"]
    assert results["snapshots"][-1]["done"] == 2
    reference, resumed = only_run(tmp / "snapshots_reference"), only_run(tmp / "snapshots")
    for seed in (0, 1):
        epochs, rows = resumed.load_snapshots(0, seed)
        ref_epochs, ref_rows = reference.load_snapshots(0, seed)
        # epochs 0-2 come from the checkpoint, epoch 3 from the restart: each once, as uninterrupted
        assert epochs.tolist() == [0, 1, 2, 3] == ref_epochs.tolist()
        np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(resumed.read_rows(), reference.read_rows())
    assert not list((resumed.path / "snapshots").glob(".*"))  # the killed writer's temp file is gone
    assert resumed.faults() == []


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
