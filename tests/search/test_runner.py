"""Search into the run store: storing, skipping, determinism, resume after SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from landscape.store import RunStore
from landscape.store.packing import layer_counts
from tests.conftest import TINY, search_tiny

ROOT = Path(__file__).resolve().parents[2]


def test_search_stores_every_mask_with_its_record(tmp_path):
    store = search_tiny(tmp_path, search_seeds=range(3))
    assert store.finished() == {(0, 0), (0, 1), (0, 2)}
    rows = store.read_rows()
    assert rows.shape == (3, store.layout.row_bytes)
    table = store.records()
    for col in (
        "test_acc",
        "val_acc",
        "best_val_acc",
        "test_acc_at_best_val",
        "final_train_loss",
        "wall_time_s",
        "all_ones_test_acc",
    ):
        assert col in table.columns, col
    # layer-wise top-k: every layer keeps exactly N - floor(0.5 N)
    expected = [s.numel - s.numel // 2 for s in store.layout]
    assert (layer_counts(rows, store.layout) == expected).all()
    curves = store.curves()
    assert set(curves["epoch"]) == {1, 2, 3}


def test_second_search_skips_finished_masks(tmp_path):
    search_tiny(tmp_path, search_seeds=range(2))
    store = search_tiny(tmp_path, search_seeds=range(3))
    assert store.n_masks == 3
    assert len(store.manifest()["shards"]) == 2


def test_same_seeds_give_bit_identical_masks(tmp_path):
    a = search_tiny(tmp_path / "a", search_seeds=[0, 1])
    b = search_tiny(tmp_path / "b", search_seeds=[0, 1])
    assert np.array_equal(a.read_rows(), b.read_rows())
    c = search_tiny(tmp_path / "c", search_seeds=[2])
    assert not np.array_equal(a.read_rows()[:1], c.read_rows())


def test_rebuilt_model_reproduces_the_stored_accuracy(tmp_path):
    import torch

    from landscape.search.evaluate import evaluate
    from landscape.search.runner import load_dataset

    store = search_tiny(tmp_path, search_seeds=[0, 1])
    model = store.build_model(0, [0, 1])
    data = load_dataset(store.config.data)
    _, acc = evaluate(model, data.test[0], data.test[1])
    recorded = store.records().sort_values("search_seed")["test_acc"].to_numpy()
    assert np.allclose(acc.numpy(), recorded, atol=1e-12)
    assert isinstance(model, torch.nn.Module)


KILL_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from landscape.config import load_config
from landscape.search.runner import run_search
cfg = load_config("configs/digits_mlp_edge_popup.yaml", {overrides!r})
run_search(cfg, sys.argv[1], [0], [0, 1], progress=False)
"""
LONG = [*TINY, "train.epochs=20"]  # long enough that a kill or Ctrl-C lands mid-search


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> RunStore:
    """The run of ``LONG``, searched without interruption (what the resumed runs must equal)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    script = root / "search.py"
    script.write_text(KILL_SCRIPT.format(overrides=LONG))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(script), str(root / "runs")], cwd=ROOT, env=env, check=True)
    return RunStore.open(next((root / "runs").iterdir()))


def _assert_equals_uninterrupted(run: Path, reference: RunStore) -> None:
    a = RunStore.open(run)
    assert np.array_equal(a.read_rows(), reference.read_rows())
    assert a.records()["test_acc"].tolist() == reference.records()["test_acc"].tolist()
    assert a.curves().drop(columns="mask").equals(reference.curves().drop(columns="mask"))
    assert not list(run.glob("checkpoints/*"))


def test_killed_search_resumes_to_the_same_masks(tmp_path, uninterrupted):
    script = tmp_path / "search.py"
    script.write_text(KILL_SCRIPT.format(overrides=LONG))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(killed)], cwd=ROOT, env=env)
    deadline = time.time() + 120
    checkpoints = []
    while time.time() < deadline and proc.poll() is None:
        checkpoints = list(killed.glob("*/checkpoints/*.pt"))  # a saved epoch, not the batch record
        if checkpoints:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail("search finished before a checkpoint was seen; raise train.epochs")
    time.sleep(0.05)  # land somewhere inside a later epoch
    assert proc.poll() is None, "search finished before the kill; raise train.epochs"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run = next(p for p in killed.iterdir() if p.is_dir())
    assert RunStore.open(run).n_masks == 0  # nothing finished yet
    subprocess.run([sys.executable, str(script), str(killed)], cwd=ROOT, env=env, check=True)
    _assert_equals_uninterrupted(run, uninterrupted)


def test_ctrl_c_leaves_the_last_finished_epoch_resumable(tmp_path, uninterrupted):
    import torch

    args = [sys.executable, "-m", "landscape.cli", "search", "configs/digits_mlp_edge_popup.yaml", "--quiet",
            "--search-seeds", "0-1", "--runs", str(tmp_path), *(a for o in LONG for a in ("--set", o))]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(tmp_path.glob("*/checkpoints/*.pt")):
        time.sleep(0.02)
    assert proc.poll() is None, "search finished before a checkpoint was seen; raise train.epochs"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err == "landscape search: interrupted; finished masks are kept, run again to resume\n"
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    (checkpoint,) = run.glob("checkpoints/*.pt")
    saved = torch.load(checkpoint, weights_only=False)["history"].epochs_done
    assert 1 <= saved < 20  # the last finished epoch, kept for the restart
    assert RunStore.open(run).n_masks == 0 and not list((run / "claims").iterdir())
    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
    _assert_equals_uninterrupted(run, uninterrupted)


def test_rebuilt_batchnorm_model_reproduces_the_stored_accuracy(tmp_path):
    from landscape.search.evaluate import evaluate
    from landscape.search.runner import load_dataset

    extra = [
        "model.name=conv2",
        "model.hidden=[256, 256]",
        "model.width_mult=0.25",
        "model.batchnorm=nonaffine",
        "train.epochs=2",
    ]
    store = search_tiny(tmp_path, search_seeds=[0, 1], extra=extra)
    model = store.build_model(0, [0, 1])
    assert model.has_batchnorm and store.has_batchnorm(0, 1)
    data = load_dataset(store.config.data)
    _, acc = evaluate(model, data.test[0], data.test[1])
    recorded = store.records().sort_values("search_seed")["test_acc"].to_numpy()
    assert np.array_equal(acc.numpy(), recorded)


def test_repeated_seeds_are_searched_once(tmp_path):
    from landscape.config import load_config
    from landscape.search.runner import run_search

    cfg = load_config("configs/digits_mlp_edge_popup.yaml", TINY)
    summary = run_search(cfg, tmp_path, [0, 0], [1, 1, 0], progress=False)
    assert summary.done == 2 and RunStore.open(summary.path).finished() == {(0, 0), (0, 1)}


def test_an_interrupted_batch_resumes_even_with_another_batch_size(tmp_path, monkeypatch):
    from landscape.config import load_config
    from landscape.search.runner import run_search

    cfg = load_config("configs/digits_mlp_edge_popup.yaml", [*TINY, "train.epochs=4"])
    original = RunStore.save_checkpoint
    calls = []

    def interrupt_after_first(self, key, state):
        original(self, key, state)
        calls.append(key)
        raise KeyboardInterrupt  # stands for a kill right after the first epoch's checkpoint

    monkeypatch.setattr(RunStore, "save_checkpoint", interrupt_after_first)
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, tmp_path / "a", [0], range(4), masks_in_flight=4, progress=False)
    monkeypatch.setattr(RunStore, "save_checkpoint", original)
    resumed = run_search(cfg, tmp_path / "a", [0], range(4), masks_in_flight=2, progress=False)
    store = RunStore.open(resumed.path)
    assert set(store.records()["batched_with"]) == {4}  # the saved batch of 4 was resumed whole
    assert not list((resumed.path / "checkpoints").iterdir())
    clean = run_search(cfg, tmp_path / "b", [0], range(4), masks_in_flight=4, progress=False)
    assert np.array_equal(store.read_rows(), RunStore.open(clean.path).read_rows())
