"""Snapshots of masks during their search: what is kept, that it changes nothing, resuming."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pytest

import landscape as ls
from landscape.config import load_config
from landscape.data import load_dataset
from landscape.errors import AnalysisError, ConfigError
from landscape.search.runner import run_search
from landscape.search.trainer import Trainer
from landscape.store import RunStore
from landscape.store.packing import pack_layers
from tests.conftest import TINY
from tests.reliability.conftest import only_run
from tests.search.test_pinned_masks import CASES, PINNED, search_checksum

CONFIG = "configs/digits_mlp_edge_popup.yaml"
SNAP = ["train.snapshot_every=1"]


def test_snapshot_set_always_holds_the_start_and_the_end():
    cfg = load_config(CONFIG, ["train.epochs=10", "train.snapshot_every=4", "train.snapshot_epochs=[1]"])
    assert cfg.train.snapshot_set() == (0, 1, 4, 8, 10)
    assert load_config(CONFIG, ["train.epochs=10"]).train.snapshot_set() == ()


def test_snapshot_fields_are_neither_identity_nor_stored(tmp_path):
    plain = load_config(CONFIG, TINY)
    snap = load_config(CONFIG, [*TINY, *SNAP])
    assert snap.run_id == plain.run_id
    summary = run_search(snap, tmp_path, [0], [0], progress=False)
    stored = json.loads((summary.path / "config.json").read_text())
    assert "snapshot_every" not in stored["train"] and "snapshot_epochs" not in stored["train"]
    assert not any("snapshot" in c for c in ls.read_runs(tmp_path).obs.columns)


@pytest.mark.parametrize(
    "bad, field",
    [
        (["train.snapshot_every=-1"], "train.snapshot_every"),
        (["train.snapshot_epochs=[5]"], "train.snapshot_epochs"),
    ],
)
def test_bad_snapshot_fields_are_refused(bad, field):
    with pytest.raises(ConfigError, match=field):
        load_config(CONFIG, [*TINY, *bad])


@pytest.fixture(scope="module")
def snapshot_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("snaps")
    cfg = load_config(CONFIG, [*TINY, *SNAP])
    run_search(cfg, root, [0], [0, 1, 2], progress=False)
    return root, cfg


def test_last_snapshot_is_the_stored_mask_and_the_first_the_initial_topk(snapshot_run):
    root, cfg = snapshot_run
    final = ls.read_runs(root)
    snaps = ls.read_runs(root, snapshots=True)
    assert sorted(set(snaps.obs["epoch"])) == [0, 1, 2, 3]
    # the model before any step: the top-k of the initial scores
    untrained = Trainer(cfg, load_dataset(cfg.data), 0, [0, 1, 2], progress=False)
    initial = pack_layers(untrained.model.current_masks(), final.layout)
    for i, label in enumerate(final.obs.index):
        mine = snaps.obs["mask"] == label
        epochs = snaps.obs.loc[mine, "epoch"].to_numpy()
        rows = snaps.rows(np.flatnonzero(mine))
        assert np.array_equal(rows[epochs.argmax()], final.rows([i])[0])
        assert np.array_equal(rows[epochs.argmin()], initial[i])
        assert not np.array_equal(rows[0], rows[-1])  # the search moved the mask


def test_snapshot_obs_carry_the_curves_of_their_epoch(snapshot_run):
    root, _ = snapshot_run
    snaps = ls.read_runs(root, snapshots=True)
    curves = RunStore.open(next(p for p in root.iterdir() if p.is_dir())).curves()
    row = snaps.obs[(snaps.obs["search_seed"] == 1) & (snaps.obs["epoch"] == 2)].iloc[0]
    expected = curves[(curves["search_seed"] == 1) & (curves["epoch"] == 2)]["test_acc"].item()  # one count
    assert row["epoch_test_acc"] == expected
    assert np.isnan(snaps.obs[snaps.obs["epoch"] == 0]["epoch_test_acc"]).all()


@pytest.mark.parametrize("case", ["edge_popup", "edge_popup_global_annealed", "biprop", "iterand", "random"])
def test_taking_snapshots_never_changes_the_masks(case):
    assert search_checksum([*CASES[case], *SNAP]) == PINNED[case]


def test_a_run_without_snapshots_says_how_to_get_them(tmp_path):
    run_search(load_config(CONFIG, TINY), tmp_path, [0], [0], progress=False)
    with pytest.raises(AnalysisError, match="snapshot_every"):
        ls.read_runs(tmp_path, snapshots=True)


def test_snapshots_asked_of_masks_already_done_are_said_to_be_missing(tmp_path, capsys):
    from landscape.cli import main

    run_search(load_config(CONFIG, TINY), tmp_path, [0], [0, 1], progress=False)
    args = ["search", CONFIG, "--runs", str(tmp_path), "--search-seeds", "0-2", "--quiet"]
    args += [a for t in TINY for a in ("--set", t)]
    assert main([*args, "--set", "train.snapshot_every=1"]) == 0
    out = capsys.readouterr().out
    assert "1 masks searched, 2 already done" in out
    assert "2 of the masks already done were searched without snapshots" in out
    assert main([*args, "--set", "train.snapshot_every=1"]) == 0  # the new mask has its snapshots
    assert "2 of the masks already done" in capsys.readouterr().out
    assert main(args) == 0  # no snapshots asked: nothing to say
    assert "without snapshots" not in capsys.readouterr().out


def test_damaged_snapshots_are_found_by_verify_and_skipped_by_readers(tmp_path):
    run_search(load_config(CONFIG, [*TINY, *SNAP]), tmp_path, [0], [0, 1], progress=False)
    store = only_run(tmp_path)
    path = store.path / "snapshots" / "w0-s1.npz"
    epochs, rows = store.load_snapshots(0, 1)
    flipped = rows.copy()
    flipped[1, 0] ^= 1
    store.save_snapshots(0, 1, dict(zip(epochs.tolist(), flipped)))  # same shape, other bits
    faults = store.faults()
    assert [(f.kind, f.pairs, f.path) for f in faults] == [("mask_file", ((0, 1),), path)]
    with pytest.warns(UserWarning, match="w0-s1.npz"):
        snaps = ls.read_runs(tmp_path, snapshots=True)
    assert set(snaps.obs["search_seed"]) == {0}
    assert snaps.uns["snapshots"]["skipped"][0]["mask"].endswith("/w0/s1")
    assert len(ls.read_runs(tmp_path)) == 2  # the final masks are untouched
    store.repair()
    assert store.pending() == [(0, 1)] and not path.exists()


# resuming under another snapshot setting (train.snapshot_* is not part of the run id) ----------

SEEDS = [0, 1]
RUN_ID = load_config(CONFIG, TINY).run_id  # the same with or without snapshots


def _trainer(overrides, checkpoint=None) -> Trainer:
    cfg = load_config(CONFIG, [*TINY, *overrides])
    return Trainer(cfg, load_dataset(cfg.data), 0, SEEDS, checkpoint=checkpoint, progress=False)


@pytest.fixture(scope="module")
def checkpoints():
    """Per snapshot setting: the uninterrupted search's snapshots and, as read back from disk,
    its checkpoint after 2 of its 3 epochs (where a killed search resumes)."""
    import io

    import torch

    out = {}
    for name, overrides in {"off": [], "every": SNAP, "only_ends": ["train.snapshot_epochs=[3]"]}.items():
        saved: list[bytes] = []

        def save(state, saved=saved):
            buf = io.BytesIO()
            torch.save(state, buf)
            saved.append(buf.getvalue())

        trainer = _trainer(overrides, (save, lambda: None))
        trainer.run()
        out[name] = trainer.snapshot_rows, torch.load(io.BytesIO(saved[-1]), weights_only=False)
    assert out["every"][1]["history"].epochs_done == 2
    return out


def _resumed(overrides, state):
    """The snapshots a search resumed from ``state`` under ``overrides`` stores, and the
    warnings it gave."""

    trainer = _trainer(overrides, (lambda saved: None, lambda: copy.deepcopy(state)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.run()
    return trainer.snapshot_rows, [str(w.message) for w in caught if "snapshot" in str(w.message)]


def _same_rows(rows, reference, epochs) -> bool:
    return all(
        sorted(mine) == list(epochs) and all(np.array_equal(mine[e], ref[e]) for e in epochs)
        for mine, ref in zip(rows, reference)
    )


def test_snapshots_asked_for_only_on_resume_are_not_taken_of_a_trained_mask(checkpoints):
    """The resumed model is the mask after 2 epochs: never stored as epoch 0."""
    rows, said = _resumed(SNAP, checkpoints["off"][1])
    assert rows is None
    assert len(said) == 1 and RUN_ID in said[0] and "resumed after epoch 2" in said[0]
    assert "store no snapshots" in said[0]


def test_snapshots_turned_off_on_resume_store_none_rather_than_a_partial_set(checkpoints):
    rows, said = _resumed([], checkpoints["every"][1])
    assert rows is None
    assert len(said) == 1 and RUN_ID in said[0] and "snapshots are off now" in said[0]


def test_a_resume_takes_the_epochs_asked_for_when_every_past_one_is_held(checkpoints):
    reference, state = checkpoints["every"]
    rows, said = _resumed(["train.snapshot_epochs=[2]"], state)
    assert not said and _same_rows(rows, reference, (0, 2, 3))


def test_a_resume_keeps_the_checkpoints_epochs_when_past_ones_asked_for_are_missing(checkpoints):
    reference, state = checkpoints["only_ends"]
    rows, said = _resumed(SNAP, state)
    assert _same_rows(rows, reference, (0, 3))
    assert len(said) == 1 and RUN_ID in said[0] and "keep the checkpoint's epochs" in said[0]


def test_a_checkpoint_written_before_snapshot_epochs_were_recorded_still_resumes(checkpoints):
    from landscape.search.snapshots import EPOCHS_KEY

    reference, state = checkpoints["every"]
    older = copy.deepcopy(state)
    older["history"].extra.pop(EPOCHS_KEY)
    rows, said = _resumed(SNAP, older)
    assert not said and _same_rows(rows, reference, (0, 1, 2, 3))


def test_a_killed_search_resumed_without_snapshots_stores_no_snapshot_files(tmp_path, monkeypatch):
    original = RunStore.save_checkpoint

    def interrupt_after_first(self, key, state):
        original(self, key, state)
        raise KeyboardInterrupt  # stands for a kill right after the first epoch's checkpoint

    monkeypatch.setattr(RunStore, "save_checkpoint", interrupt_after_first)
    with pytest.raises(KeyboardInterrupt):
        run_search(load_config(CONFIG, [*TINY, *SNAP]), tmp_path, [0], [0], progress=False)
    monkeypatch.setattr(RunStore, "save_checkpoint", original)
    with pytest.warns(UserWarning, match="snapshots are off now"):
        run_search(load_config(CONFIG, TINY), tmp_path, [0], [0], progress=False)
    assert not list(only_run(tmp_path).path.glob("snapshots/*"))
    with pytest.raises(AnalysisError, match="snapshot_every"):
        ls.read_runs(tmp_path, snapshots=True)
