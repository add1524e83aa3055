"""Concurrency: many workers on one runs root, the same sweep twice, overlapping sweeps, and a
worker killed while others run. No run is clobbered, no mask is missing or stored twice.

All workers start at the same moment (forked by ``_driver.py``) and race for the same runs,
plans, claims and manifests; the store's only coordination is the file system (``O_EXCL``
claims and lock files, atomic renames), see :mod:`landscape.store.claims`.
"""

from __future__ import annotations

import pytest

from landscape.search.sweep import load_sweep
from landscape.store import RunStore
from tests.reliability.conftest import CONFIG, drive, listed_pairs, only_run, search_job

SWEEP = """base: {base}
set: {{train.epochs: 2, model.hidden: [32, 32], train.batch_size: 64}}
grid: {{method.density: {densities}}}
weight_seeds: 0
search_seeds: {seeds}
"""


def _sweep_job(root, path) -> dict:
    return {"kind": "sweep", "root": str(root), "sweep": str(path), "masks_in_flight": 1}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("concurrency")
    sweeps = {
        "a": tmp / "a.yaml",  # densities 0.3 and 0.5, seeds 0-2
        "b": tmp / "b.yaml",  # densities 0.5 and 0.7, seeds 1-3: shares the 0.5 run with "a"
    }
    sweeps["a"].write_text(SWEEP.format(base=CONFIG, densities="[0.3, 0.5]", seeds="0-2"))
    sweeps["b"].write_text(SWEEP.format(base=CONFIG, densities="[0.5, 0.7]", seeds="1-3"))
    same = [search_job(tmp / "same", [0], range(6), masks_in_flight=1) for _ in range(3)]
    overlapping = [_sweep_job(tmp / "sweeps", sweeps[k]) for k in ("a", "a", "b")]
    killed = [
        search_job(tmp / "killed", [0, 1], range(3), masks_in_flight=1),
        search_job(tmp / "killed", [0, 1], range(3), {"on": "timer", "delay": 1.0}, masks_in_flight=1),
    ]
    racing = drive(tmp, same + overlapping + killed, mode="parallel")
    # afterwards: restart the killed worker's search, and run both sweeps again
    again = drive(tmp, [search_job(tmp / "killed", [0, 1], range(3), masks_in_flight=1),
                        _sweep_job(tmp / "sweeps", sweeps["a"]), _sweep_job(tmp / "sweeps", sweeps["b"])])  # fmt: skip
    return tmp, sweeps, {"same": racing[:3], "overlapping": racing[3:6], "killed": racing[6:], "again": again}


def test_three_workers_on_one_run_search_each_mask_once(outcome):
    tmp, _, results = outcome
    assert [r["ended"] for r in results["same"]] == ["ok"] * 3, results["same"]
    store = only_run(tmp / "same")
    assert sorted(listed_pairs(store)) == [(0, s) for s in range(6)]
    # every mask was trained by exactly one worker; the others skipped it or saw it held
    assert sum(r["done"] for r in results["same"]) == 6, results["same"]
    _assert_tidy(store)


def test_same_and_overlapping_sweeps_at_once_store_the_union_once(outcome):
    tmp, sweeps, results = outcome
    assert [r["ended"] for r in results["overlapping"]] == ["ok"] * 3, results["overlapping"]
    assert all(r["failures"] == 0 for r in results["overlapping"]), results["overlapping"]
    expected: dict[str, set] = {}
    for path in sweeps.values():
        for task in load_sweep(path).expand():
            expected.setdefault(task.run_id, set()).update(task.pairs())
    runs = tmp / "sweeps"
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(("_", "."))) == sorted(expected)
    for run_id, pairs in expected.items():
        store = RunStore.open(runs / run_id)
        assert sorted(listed_pairs(store)) == sorted(pairs), run_id
        assert store.plan() == pairs  # the plans of both sweeps, merged, not overwritten
        _assert_tidy(store)
    # shared run 0.5 got seeds 0-3 from two sweeps; together the workers searched each mask once
    assert sum(r["done"] for r in results["overlapping"]) == sum(len(p) for p in expected.values())
    # running the sweeps again finds everything done
    assert [r["done"] for r in results["again"][1:]] == [0, 0]


def test_worker_killed_among_others_loses_nothing_after_a_restart(outcome):
    tmp, _, results = outcome
    assert results["killed"][0]["ended"] == "ok"
    assert results["killed"][1]["ended"] in ("killed", "ok")
    assert results["again"][0]["ended"] == "ok"
    store = only_run(tmp / "killed")
    assert sorted(listed_pairs(store)) == [(w, s) for w in (0, 1) for s in range(3)]
    store.verify()
    assert store.status() == "complete"
    assert store.records().duplicated(["weight_seed", "search_seed"]).sum() == 0


def _assert_tidy(store: RunStore) -> None:
    """No orphan shard from a lost race, no claim or checkpoint left, every file verified."""
    bins = sorted(p.stem for p in (store.path / "shards").glob("shard-*.bin"))
    assert bins == sorted(e["name"] for e in store.manifest()["shards"])
    assert not list((store.path / "claims").iterdir())
    assert not list(store.path.glob("checkpoints/*"))
    assert not list(store.path.glob(".*lock*"))
    store.verify()
