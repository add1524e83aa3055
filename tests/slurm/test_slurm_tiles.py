"""The tiles of one distance job as a Slurm job array: the merged result equals the
in-memory route and scipy, bit for bit, and tiles finished before the array are not
computed again."""

from __future__ import annotations

import os

import numpy as np
import pytest

from landscape import tl
from landscape.reading import read_runs
from tests.tl.test_tl_tiles import MEMORY, assert_same, scipy_slots, small_job, special_masks, write_runs

from .conftest import cluster_options

pytestmark = pytest.mark.slurm


def test_tile_units_run_as_a_job_array_and_merge_to_the_in_memory_result(tmp_path, partition):
    dense = special_masks(n=13, seed=8)
    root = write_runs(tmp_path / "runs", dense)
    ms = read_runs(root)
    job = small_job(ms, tmp_path / "tiles")  # blocks of 3 masks x ranges of 2 words
    n_tiles = len(job.plan.tiles())
    first = job.plan.tiles()[:3]  # finished here before the array is submitted
    assert job.compute(first, worker="this-process") == 3
    stored_before = dict(job.store.finished())
    options = cluster_options(partition)
    n_units = len(job.units(options["array_parallelism"], "auto", None, None))
    assert n_units >= 2

    tl.distances(ms, per_layer=True, tiles=tmp_path / "tiles", memory=MEMORY, executor="slurm", **options)

    assert ms.uns["distances"]["tiles"]["computed_tiles"] == n_tiles - 3
    # one array, one log folder per unit (<array id>_<task>), beside the array's own folder
    folders = [p.name for p in (job.folder / ".submitit").iterdir() if p.is_dir()]
    tasks = sorted(name for name in folders if "_" in name)
    array_ids = {name.split("_")[0] for name in tasks}
    assert len(array_ids) == 1, folders
    assert tasks == sorted(f"{next(iter(array_ids))}_{k}" for k in range(n_units)), folders
    workers = {name: job.store.load(path)[1] for name, path in job.store.finished().items()}
    assert len(workers) == n_tiles
    assert all(workers[t.name] == "this-process" for t in first)  # not computed again
    assert all(job.store.finished()[t.name] == stored_before[t.name] for t in first)
    in_jobs = {w for w in workers.values() if w != "this-process"}
    assert len(in_jobs) >= 2 and all(w.split(":")[1] != str(os.getpid()) for w in in_jobs)

    in_memory = read_runs(root)
    tl.distances(in_memory, per_layer=True)  # no tiles: every pair in this process
    assert set(ms.obsp) == set(in_memory.obsp)
    for key, value in in_memory.obsp.items():
        np.testing.assert_array_equal(np.asarray(ms.obsp[key]), np.asarray(value), err_msg=key)
    assert_same(ms, scipy_slots(dense))
