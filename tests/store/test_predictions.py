"""Predictions kept with the masks: equal to a fresh evaluation of the rebuilt network, checked
by `landscape verify`, filled in for runs searched before they were kept."""

from __future__ import annotations

import re
import shutil
import threading

import numpy as np
import pandas as pd
import pytest

from landscape.cli import main
from landscape.errors import AnalysisError, StoreError
from landscape.store.predictions import mask_key
from landscape.store.run_store import RunStore
from tests.conftest import search_tiny

torch = pytest.importorskip("torch")

DENSE = ("method.density=1.0", "train.lr=0.05")


def _drop_predictions(run) -> None:
    """What a run searched before predictions were kept looks like."""
    shutil.rmtree(run / "predictions")
    (run / "predictions.json").unlink()


def _copy(tiny_runs, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis"))
    return root


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("edge_popup", ()),
        ("biprop", ()),
        ("edge_popup", ("model.batchnorm=nonaffine",)),
        ("edge_popup", ("method.name=dense", *DENSE)),  # weights trained and stored
    ],
    ids=["edge_popup", "biprop", "batchnorm", "dense"],
)
def test_stored_predictions_equal_a_fresh_evaluation_of_the_rebuilt_network(tmp_path, method, extra):
    from landscape.search.predict import predict
    from landscape.search.runner import load_dataset

    store = search_tiny(tmp_path, method, search_seeds=range(2), extra=extra)
    dataset = load_dataset(store.config.data)
    model = store.build_model(0, [0, 1])
    records = store.records().set_index("search_seed")
    for split in ("val", "test"):
        x, y = getattr(dataset, split)
        logprob, pred = predict(model, x)
        for slot, seed in enumerate((0, 1)):
            stored = store.load_predictions(0, seed, split)
            assert stored["logprob"].dtype == np.float16
            np.testing.assert_array_equal(stored["logprob"], logprob[slot])
            np.testing.assert_array_equal(stored["pred"], pred[slot])
            np.testing.assert_array_equal(stored["labels"], y.numpy())
            # the stored classes give back the accuracy the search recorded, exactly
            assert np.mean(stored["pred"] == stored["labels"]) == records.loc[seed, f"{split}_acc"]
    entry = store.predictions_index()[mask_key(0, 1)]
    assert entry["source"] == "search" and entry["splits"] == {"val": len(dataset.val[1]), "test": len(y)}


def test_verify_checks_the_predictions(tiny_runs, tmp_path, capsys):
    root = _copy(tiny_runs, tmp_path)
    assert main(["verify", str(root)]) == 0
    assert all("predictions of 4" in line for line in capsys.readouterr().out.splitlines())
    run = sorted(p for p in root.iterdir() if p.is_dir())[0]
    target = sorted((run / "predictions").glob("*.npz"))[0]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 1
    target.write_bytes(bytes(data))
    assert main(["verify", str(root)]) == 2
    bad = [line for line in capsys.readouterr().out.splitlines() if line.startswith("CORRUPT")]
    assert len(bad) == 1 and target.name in bad[0]
    store = RunStore.open(run)
    w, s = (int(v[1:]) for v in target.name.split("-")[:2])
    with pytest.raises(StoreError, match=target.name):
        store.load_predictions(w, s)
    # the masks themselves still read; their statistics leave that mask out, naming its file,
    # and keep the run's other masks (the damaged file is the run's first)
    import landscape as ls

    ms = ls.read_runs(root)
    with pytest.warns(
        UserWarning, match=re.escape(f"could not be read, their masks are left out: {target}: corrupt")
    ):
        table = ls.tl.agreement(ms)
    assert len(table) == 3 and table.set_index("run_id").loc[run.name, "n_masks"] == 3
    assert ms.uns["unreadable_predictions"]["test"] == [
        {"path": str(target), "reason": "corrupt (sha256 does not match the manifest)"}
    ]
    # repair unlists the damaged file and keeps every mask; predict evaluates it again
    sha = {k: e["sha256"] for k, e in store.predictions_index().items()}
    n_masks = store.n_masks
    assert main(["verify", "--repair", str(root)]) == 0
    repaired = [line for line in capsys.readouterr().out.splitlines() if line.startswith("REPAIRED")]
    assert len(repaired) == 1 and "0 masks quarantined" in repaired[0] and "landscape predict" in repaired[0]
    store = RunStore.open(run)
    assert store.n_masks == n_masks and not store.has_predictions(w, s)
    assert any((run / "quarantine").glob(f"*/predictions/{target.name}"))
    assert main(["predict", str(root)]) == 0 and main(["verify", str(root)]) == 0
    assert {k: e["sha256"] for k, e in RunStore.open(run).predictions_index().items()} == sha


def test_old_runs_still_read_and_analyse_and_predict_fills_them_in(tiny_runs, tmp_path, capsys):
    import landscape as ls
    from landscape.analysis import analyze

    root = _copy(tiny_runs, tmp_path)
    runs = sorted(p for p in root.iterdir() if p.is_dir())
    before = {p.name: RunStore.open(p).predictions_index() for p in runs}
    for run in runs:
        _drop_predictions(run)
    assert main(["verify", str(root)]) == 0
    ms = ls.read_runs(root)
    assert len(ms) == 12
    result = analyze(root, progress=False)
    assert "agreement" not in result.tables and "diversity" in result.tables
    assert "test predictions" not in result.summary()
    with pytest.raises(AnalysisError, match="landscape predict"):
        ls.tl.agreement(ls.read_runs(root))
    capsys.readouterr()
    assert main(["predict", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all("4 masks evaluated, 0 already stored" in line for line in lines)
    assert all("accuracy change against the record: val 0, test 0" in line for line in lines)
    for run in runs:  # the very files the search wrote
        after = RunStore.open(run).predictions_index()
        assert {k: e["sha256"] for k, e in after.items()} == {
            k: e["sha256"] for k, e in before[run.name].items()
        }
        assert {e["source"] for e in after.values()} == {"re-evaluated"}
    assert main(["predict", str(root)]) == 0
    assert all("0 masks evaluated, 4 already stored" in line for line in capsys.readouterr().out.splitlines())
    assert main(["predict", str(root), "--force"]) == 0  # every mask again, none counted as kept
    lines = capsys.readouterr().out.splitlines()
    assert all("4 masks evaluated, replaced when stored before (--force)" in line for line in lines)
    filled = analyze(root, progress=False)
    assert {"agreement", "agreement_summary", "ensemble", "ensemble_summary"} <= set(filled.tables)
    assert "test predictions within a group" in filled.summary()
    assert (root / "_analysis" / "ensemble_summary.csv").exists()
    # the tables are kept in the result store: read back as computed, until predictions change
    again = analyze(root, progress=False)
    assert filled.work["function tables"] == {"computed": 1, "reused": 0}
    assert again.work["function tables"] == {"computed": 0, "reused": 1}
    for name in ("agreement", "agreement_summary", "ensemble", "ensemble_summary"):
        pd.testing.assert_frame_equal(again.tables[name], filled.tables[name])
    store = RunStore.open(runs[0])
    w, s = (int(v) for v in store.records()[["weight_seed", "search_seed"]].iloc[0])
    outputs = {split: store.load_predictions(w, s, split) for split in ("val", "test")}
    outputs["test"]["pred"] = (outputs["test"]["pred"] + 1) % outputs["test"]["logprob"].shape[1]
    store.save_predictions(w, s, outputs)
    changed = analyze(root, progress=False)
    assert changed.work["function tables"] == {"computed": 1, "reused": 0}
    assert not changed.tables["agreement"].equals(filled.tables["agreement"])


def test_predictions_without_a_validation_split(tmp_path):
    store = search_tiny(tmp_path, search_seeds=[0], extra=("data.val_fraction=0",))
    entry = store.predictions_index()[mask_key(0, 0)]
    assert entry["splits"]["val"] == 0 and entry["splits"]["test"] > 0
    assert not store.has_predictions(0, 0, "val") and store.has_predictions(0, 0, "test")
    with pytest.raises(StoreError, match="no predictions on the 'val' split"):
        store.load_predictions(0, 0, "val")
    from landscape.search.predict import fill_predictions

    assert fill_predictions(tmp_path, progress=False)[0].evaluated == 0  # nothing missing


def test_re_evaluating_one_split_keeps_the_others(tmp_path):
    from landscape.search.predict import fill_predictions

    store = search_tiny(tmp_path, search_seeds=[0])
    before = store.load_predictions(0, 0, "val")
    (summary,) = fill_predictions(tmp_path, splits=("test",), force=True, progress=False)
    assert summary.evaluated == 1 and not summary.problem
    entry = store.predictions_index()[mask_key(0, 0)]
    assert set(entry["splits"]) == {"val", "test"} and entry["source"] == "re-evaluated"
    np.testing.assert_array_equal(store.load_predictions(0, 0, "val")["pred"], before["pred"])


def test_asking_only_for_an_empty_split_says_so(tmp_path):
    from landscape.search.predict import fill_predictions

    store = search_tiny(tmp_path, search_seeds=[0], extra=("data.val_fraction=0",))
    entry = store.predictions_index()[mask_key(0, 0)]
    (summary,) = fill_predictions(tmp_path, splits=("val",), force=True, progress=False)
    assert summary.evaluated == 0 and "hold no examples" in summary.problem
    assert store.predictions_index()[mask_key(0, 0)] == entry  # what was stored stays


def _outputs(n=5, c=3, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c))
    return {
        "test": {
            "logprob": logits - np.log(np.exp(logits).sum(1, keepdims=True)),
            "pred": logits.argmax(1),
            "labels": rng.integers(0, c, n),
        }
    }


def test_concurrent_writers_keep_every_entry(store):
    threads = [
        threading.Thread(target=store.save_predictions, args=(0, s, _outputs(seed=s))) for s in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    index = store.predictions_index()
    assert sorted(index) == [mask_key(0, s) for s in range(8)]
    assert store.verify_predictions() == 8
    # replacing one mask's predictions lists the new file and removes the old one
    old = index[mask_key(0, 3)]["file"]
    store.save_predictions(0, 3, _outputs(seed=99), source="re-evaluated")
    new = store.predictions_index()[mask_key(0, 3)]["file"]
    assert new != old and not (store.path / "predictions" / old).exists()
    assert len(list((store.path / "predictions").glob("*.npz"))) == 8


def test_bad_predictions_are_refused(store):
    bad = _outputs()
    bad["test"]["pred"] = bad["test"]["pred"][:-1]
    with pytest.raises(ValueError, match="do not describe"):
        store.save_predictions(0, 0, bad)
    bad = _outputs()
    bad["test"]["labels"][0] = 7
    with pytest.raises(ValueError, match="labels outside"):
        store.save_predictions(0, 0, bad)
    (store.path / "predictions.json").write_text('{"files": {"w0-s0": {"file": "../x"}}}')
    with pytest.raises(StoreError, match="malformed predictions index"):
        store.predictions_index()


def test_runs_that_cannot_be_rebuilt_are_skipped_with_the_reason(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for i in range(2):
        masks = {
            n: rng.random(shape) < 0.25 for n, shape in {"fc1.weight": (8, 16), "fc2.weight": (3, 8)}.items()
        }
        np.savez(tmp_path / f"m{i}.npz", **masks)
    runs = tmp_path / "runs"
    assert (
        main(["import", str(tmp_path), "--runs", str(runs), "--format", "arrays", "--set", "weight_seed=0"])
        == 0
    )
    capsys.readouterr()
    assert main(["predict", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "0 masks evaluated" in out and "skipped:" in out and "cannot be evaluated" in out


def test_an_unreadable_predictions_file_is_named_and_its_tables_are_not_kept(tiny_runs, tmp_path):
    from landscape.analysis import analyze

    root = _copy(tiny_runs, tmp_path)
    run = sorted(p for p in root.iterdir() if p.is_dir())[0]
    target = next((run / "predictions").glob("w0-s2-*.npz"))
    kept = target.read_bytes()
    target.write_bytes(kept[: len(kept) // 2])
    stored = root / "_analysis" / "results" / "function_tables"

    def n_masks(result) -> dict[str, int]:
        summary = result.tables["agreement_summary"].set_index("group")["n_masks"]
        ensemble = result.tables["ensemble_summary"].groupby("group")["n_masks"].max()
        assert summary.to_dict() == ensemble.to_dict()
        return summary.to_dict()

    for _ in range(2):  # never kept, so never read back with the mask missing
        damaged = analyze(root, embed=(), progress=False)
        assert damaged.work["function tables"] == {"computed": 1, "reused": 0}
        assert sorted(n_masks(damaged).values()) == [3, 4, 4]  # one mask left out, not its run
        (line,) = damaged.skipped
        assert line.startswith(f"{target}: truncated or corrupt") and "agreement and ensemble" in line
        assert line in damaged.summary()
        assert not stored.exists() or not list(stored.glob("*.json"))
    target.write_bytes(kept)  # restored: computed from every mask, then kept and reused
    restored = analyze(root, embed=(), progress=False)
    assert restored.work["function tables"] == {"computed": 1, "reused": 0} and not restored.skipped
    assert sorted(n_masks(restored).values()) == [4, 4, 4]
    assert analyze(root, embed=(), progress=False).work["function tables"] == {"computed": 0, "reused": 1}
    # damaged after the tables were kept: not reused over it, named again, the kept entry stays
    target.write_bytes(kept[:-1])
    again = analyze(root, embed=(), progress=False)
    assert again.work["function tables"] == {"computed": 1, "reused": 0} and len(again.skipped) == 1
    assert len(list(stored.glob("*.json"))) == 1
    target.write_bytes(kept)
    assert analyze(root, embed=(), progress=False).work["function tables"] == {"computed": 0, "reused": 1}


def test_a_damaged_predictions_index_is_named_even_when_no_run_has_a_readable_one(tiny_runs, tmp_path):
    from landscape.analysis import analyze

    root = tmp_path / "runs"
    run = sorted(p for p in tiny_runs.iterdir() if p.is_dir())[0]
    shutil.copytree(run, root / run.name)
    (root / run.name / "predictions.json").write_text('{"trunc')
    result = analyze(root, embed=(), progress=False)
    assert "agreement_summary" not in result.tables
    (line,) = [s for s in result.skipped if "predictions.json" in s]
    assert "not valid JSON" in line and "agreement and ensemble" in line and line in result.summary()
