"""Barriers through ``analyze``: one measurement per pair, one run's failure kept to that run."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from landscape.analysis import analyze, attach_barriers
from landscape.reading import read_runs
from landscape.tl.barriers import barriers
from tests.conftest import search_tiny

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def plain_and_iwr(tmp_path_factory):
    """Edge-Popup, and Edge-Popup with weight recycling (its masks carry their own weights)."""
    root = tmp_path_factory.mktemp("runs")
    plain = search_tiny(root, "edge_popup", search_seeds=range(3))
    iwr = search_tiny(root, "edge_popup", search_seeds=range(3),
                      extra=["method.recycle.every=1", "method.recycle.rate=0.1"])  # fmt: skip
    return root, plain.run_id, iwr.run_id


def _copy(root, tmp_path):
    out = tmp_path / "runs"
    shutil.copytree(root, out)
    return out


def _summary_rows(text: str, path: str) -> list[str]:
    block = text.split("loss barriers", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines() if f" {path} " in line]


def test_a_pair_stored_under_two_seeds_counts_once(plain_and_iwr, tmp_path):
    root = _copy(plain_and_iwr[0], tmp_path)
    where = {"method": "edge_popup"}
    first = analyze(root, where=where, barriers=1, embed=(), progress=False, barrier_points=3)
    # another seed, all 3 pairs of the network: the first call's pair is drawn again
    again = analyze(root, where=where, barriers=3, rng=1, embed=(), progress=False, barrier_points=3)
    stored = again.tables["barriers"]
    keys = stored[["path", "obs_i", "obs_j"]].apply(tuple, axis=1)
    distinct = keys.nunique()
    assert len(stored) > distinct  # the store kept both draws (nothing thrown away)
    for path in ("linear", "swap"):
        part = stored[stored["path"] == path]
        n = part[["obs_i", "obs_j"]].drop_duplicates().shape[0]
        means = part.groupby(["obs_i", "obs_j"])["barrier_loss"].mean()
        row = _summary_rows(again.summary(), path)
        assert len(row) == 1 and f" {n} " in row[0]  # pairs: distinct pairs
        assert f"{means.mean():.4f}" in row[0]  # each pair weighted once
    # linear curves do not depend on the seed: the replicate is the same curve
    lin = stored[stored["path"] == "linear"]
    assert (lin.groupby(["obs_i", "obs_j"])["barrier_loss"].nunique() == 1).all()
    assert len(first.tables["barriers"]) < len(stored)

    ms = read_runs(root, where={"method": "edge_popup"})
    assert attach_barriers(ms, root)
    params, table = ms.uns["barrier"]["params"], ms.uns["barrier"]["table"]
    assert params["n_pairs"] == lin[["obs_i", "obs_j"]].drop_duplicates().shape[0]
    assert not table.duplicated(["path", "i", "j"]).any()
    assert (table["n_curves"] >= 1).all() and table["n_curves"].max() == 2


def test_a_method_that_changes_weights_gets_the_linear_path_and_others_keep_swap(plain_and_iwr, tmp_path):
    root, plain, iwr = plain_and_iwr
    root = _copy(root, tmp_path)
    result = analyze(root, barriers=1, embed=(), progress=False, barrier_points=3)
    bar = result.tables["barriers"]
    assert set(bar.loc[bar["run_id"] == plain, "path"]) == {"linear", "swap"}
    assert set(bar.loc[bar["run_id"] == iwr, "path"]) == {"linear"}
    assert any(s.startswith(str(root / iwr)) and "swap path not defined" in s for s in result.skipped)
    assert "swap path not defined" in result.summary()
    # a fresh store: every curve is computed now, none counted as reused
    assert result.work["barrier curves"] == {"computed": len(bar), "reused": 0}


def test_a_run_whose_network_cannot_be_rebuilt_is_named_and_the_others_get_barriers(plain_and_iwr, tmp_path):
    root, plain, iwr = plain_and_iwr
    root = _copy(root, tmp_path)
    (root / iwr / "weights.json").write_text('{"trunc')  # the masks still read; the network does not
    result = analyze(root, barriers=1, embed=(), progress=False, barrier_points=3)
    bar = result.tables["barriers"]
    assert set(bar["run_id"]) == {plain} and set(bar["path"]) == {"linear", "swap"}
    named = [s for s in result.skipped if s.startswith(str(root / iwr))]
    assert len(named) == 1 and "barriers not computed" in named[0] and "weights.json" in named[0]
    assert "barriers not computed" in result.summary()
    assert result.tables["diversity"]["run_id"].nunique() == 2  # the rest of its analysis stands


def test_pairs_across_networks_are_their_own_summary_row(plain_and_iwr, tmp_path):
    root = _copy(plain_and_iwr[0], tmp_path)
    search_tiny(root, "edge_popup", search_seeds=range(2), extra=["model.weight_init=kaiming_normal"])
    ms = read_runs(root, where={"method": "edge_popup", "method.recycle.every": 0})
    runs = ms.obs["run_id"].to_numpy()
    j = int(np.flatnonzero(runs != runs[0])[0])
    # a pair over two different random networks (stored through the API) and one within a run
    barriers(ms, pairs=[(0, j), (0, 1)], path="linear", n_points=3, across_seeds=True, progress=False,
             store=_store(root))  # fmt: skip
    result = analyze(root, where={"method.recycle.every": 0}, barriers=1, embed=(), progress=False,
                     barrier_points=3)  # fmt: skip
    rows = _summary_rows(result.summary(), "linear")
    crossed = [r for r in rows if " × " in r]
    assert len(crossed) == 1 and " 1 " in crossed[0]  # the one pair across configurations
    assert len(rows) == 3  # each configuration's own pairs, then the pair across them


def test_pairs_across_weight_seeds_of_one_group_are_marked():
    from landscape.analysis.summary import _pair_labels

    bar = pd.DataFrame({"group": ["a", "a", "a"], "group_b": ["a", "a", "b"],
                        "weight_seed": [0, 0, 0], "weight_seed_b": [0, 1, 0]})  # fmt: skip
    assert list(_pair_labels(bar)["group"]) == ["a", "a (across networks)", "a × b"]


def _store(root):
    from landscape.analysis import analysis_folder
    from landscape.store.results import ResultStore

    return ResultStore(analysis_folder(root, None))


def test_imported_masks_without_a_network_beside_a_search_are_named_and_the_search_gets_barriers(
    plain_and_iwr, tmp_path
):
    from landscape.cli import main

    root = tmp_path / "runs"
    plain = plain_and_iwr[1]
    shutil.copytree(plain_and_iwr[0] / plain, root / plain)
    rng = np.random.default_rng(1)
    made = tmp_path / "elsewhere"
    made.mkdir()
    for i in range(2):  # masks made elsewhere, no method or weights named: nothing to rebuild
        shapes = {"fc1.weight": (8, 16), "fc2.weight": (3, 8)}
        np.savez(made / f"m{i}.npz", **{n: rng.random(s) < 0.25 for n, s in shapes.items()})
    assert (
        main(["import", str(made), "--runs", str(root), "--format", "arrays", "--set", "weight_seed=0"]) == 0
    )
    result = analyze(root, barriers=1, embed=(), progress=False, barrier_points=3)
    assert set(result.tables["barriers"]["run_id"]) == {plain}
    named = [s for s in result.skipped if "barriers not computed" in s]
    assert len(named) == 1 and plain not in named[0]


def test_curves_of_an_older_computation_version_are_left_out_of_the_view(tmp_path, monkeypatch):
    from landscape.analysis import cached
    from landscape.maskset import MaskSet
    from landscape.store import results
    from landscape.store.layout import Layout

    layout = Layout([("fcs.0", (3, 4))])
    ms = MaskSet.from_dense(np.random.default_rng(0).random((2, 12)) < 0.5, layout)
    (a, bits_a), (b, bits_b) = (key.split("@") for key in cached.mask_ids(ms))
    store = results.ResultStore(tmp_path)

    def put_curve(loss_middle: float) -> None:
        inputs = {"a": {"label": a, "bits": bits_a}, "b": {"label": b, "bits": bits_b},
                  "path": "linear", "alphas": [0.0, 0.5, 1.0], "split": "test", "bn_batches": 0,
                  "batch_size": 8, "seed": 0}  # fmt: skip
        payload = {"loss": [1.0, loss_middle, 1.0], "acc": [0.5, 0.4, 0.5], "hamming": 0.3, "jaccard": 0.4}
        store.put("barrier_curve", results.ResultStore.key("barrier_curve", inputs), inputs, payload)

    put_curve(3.0)
    monkeypatch.setitem(results.VERSIONS, "barrier_curve", results.VERSIONS["barrier_curve"] + 1)
    put_curve(2.0)  # the same pair measured again by the new computation
    table, _ = cached.barrier_view(ms, store)
    assert len(table) == 1 and table["barrier_loss"].iloc[0] == pytest.approx(1.0)
    assert cached.attach_barriers(ms, store) and ms.uns["barrier"]["table"]["n_curves"].tolist() == [1]
