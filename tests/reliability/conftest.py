"""Helpers of the reliability tests: the forking driver, tiny searches, run-store checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landscape.cli import main
from landscape.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "digits_mlp_edge_popup.yaml"
# a tiny search: seconds on one CPU thread
TINY = ["model.hidden=[32, 32]", "train.epochs=3", "train.batch_size=64"]
HOW_IT_RAN = ("wall_time_s", "batched_with")


def drive(tmp_path: Path, jobs: list[dict], mode: str = "sequential", timeout: float = 300) -> list[dict]:
    """Run ``jobs`` through ``tests/reliability/_driver.py``; one result dict per job."""
    spec = tmp_path / f"spec-{len(list(tmp_path.glob('spec-*')))}.json"
    out = spec.with_suffix(".out.json")
    spec.write_text(json.dumps({"mode": mode, "jobs": jobs, "out": str(out)}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "tests.reliability._driver", str(spec)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def search_job(
    root: Path, weight_seeds, search_seeds, kill=None, masks_in_flight=2, extra=(), device="cpu"
) -> dict:
    return {
        "device": device,
        "kind": "search",
        "root": str(root),
        "overrides": [*TINY, *extra],
        "weight_seeds": list(weight_seeds),
        "search_seeds": list(search_seeds),
        "masks_in_flight": masks_in_flight,
        "kill": kill,
    }


def only_run(root: Path) -> RunStore:
    dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    assert len(dirs) == 1, dirs
    return RunStore.open(dirs[0])


def listed_pairs(store: RunStore) -> list[tuple[int, int]]:
    """Every pair the manifest lists, repeats included."""
    return [tuple(p) for e in store.manifest()["shards"] for p in e["pairs"]]


def by_pair(store: RunStore) -> tuple[list[tuple[int, int]], np.ndarray, list[dict]]:
    """Pairs sorted, with their packed rows and records in that order (minus the fields that
    describe how the search ran rather than what it found)."""
    pairs = listed_pairs(store)
    rows = np.asarray(store.read_rows())
    records = store._records()
    order = sorted(range(len(pairs)), key=pairs.__getitem__)
    clean = [{k: v for k, v in records[i].items() if k not in HOW_IT_RAN} for i in order]
    return [pairs[i] for i in order], rows[order], clean


def assert_same_masks(store: RunStore, reference: RunStore) -> None:
    """Every mask exactly once, bit-identical to the reference, with identical records."""
    pairs, rows, records = by_pair(store)
    ref_pairs, ref_rows, ref_records = by_pair(reference)
    assert len(pairs) == len(set(pairs)), f"a mask is stored twice: {pairs}"
    assert pairs == ref_pairs
    np.testing.assert_array_equal(rows, ref_rows)
    assert records == ref_records
    store.verify()


SEARCH = ["search", str(CONFIG), "--quiet", *(a for o in TINY for a in ("--set", o))]


def cli_error(capsys, *argv: str) -> str:
    """Run the CLI and return its one-line error (asserting the contract on the way)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    err = captured.err
    assert code == 2, (code, err, captured.out)
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"landscape {argv[0]}: error: ")
    return err.strip()


@pytest.fixture
def one_torch_thread():
    """torch on one thread for this test (restored after).

    A mask searched again in a batch of another size has the same bits on any number of
    threads, but with more than one its logged training loss (a float32 mean over a batch)
    can differ in the last digits; in-process sweeps elsewhere in a session may have left
    torch on more threads.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A run directory with three stored masks (copied before each tampering)."""
    from landscape.config import load_config
    from landscape.search.runner import run_search

    root = tmp_path_factory.mktemp("finished")
    cfg = load_config(CONFIG, TINY)
    return run_search(cfg, root, [0], [0, 1, 2], device="cpu", progress=False).path
