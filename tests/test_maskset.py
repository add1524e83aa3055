"""MaskSet: construction, subsetting, concatenation, unpacking; read_runs over run folders."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import landscape
from landscape.config import SearchConfig
from landscape.errors import AnalysisError
from landscape.maskset import MaskSet
from landscape.reading import read_runs
from landscape.store.layout import Layout
from landscape.store.packing import pack_flat
from landscape.store.run_store import RunStore

LAYOUT = Layout([("fcs.0", (4, 9)), ("fcs.1", (3, 4)), ("fcs.2", (2, 3))])
BASE = SearchConfig().replace(**{"model.hidden": [4, 3], "train.epochs": 2})


def random_dense(n: int, layout: Layout = LAYOUT, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, layout.n_weights)) < 0.4


def make_run(root, cfg=BASE, layout=LAYOUT, n=4, seed=0, weight_seed=0) -> tuple[RunStore, np.ndarray]:
    store = RunStore.create(root, cfg, layout)
    dense = random_dense(n, layout, seed)
    pairs = [(weight_seed, s) for s in range(n)]
    store.add_plan(pairs)
    records = [
        {"weight_seed": w, "search_seed": s, "test_acc": 0.9 - 0.1 * s, "curves": {"lr": [0.1, 0.0]}}
        for w, s in pairs
    ]
    store.write_masks(pack_flat(dense[:2], layout), records[:2])
    store.write_masks(pack_flat(dense[2:], layout), records[2:])
    return store, dense


# construction and unpacking -------------------------------------------------------------------


def test_from_dense_round_trips():
    dense = random_dense(5)
    ms = MaskSet.from_dense(dense, LAYOUT)
    assert len(ms) == ms.n_masks == 5 and ms.n_weights == LAYOUT.n_weights
    np.testing.assert_array_equal(ms.dense(), dense)
    np.testing.assert_array_equal(ms.counts(), dense.sum(axis=1))
    np.testing.assert_array_equal(ms.obs["n_kept"], dense.sum(axis=1))
    assert list(ms.obs.index) == [f"mask{i}" for i in range(5)]
    np.testing.assert_array_equal(ms.rows(), pack_flat(dense, LAYOUT))
    assert ms.words().dtype == np.uint64 and ms.words().shape == (5, LAYOUT.row_words)
    # per layer
    np.testing.assert_array_equal(ms.dense(layer="fcs.1"), dense[:, 36:48])
    np.testing.assert_array_equal(ms.counts("fcs.1"), dense[:, 36:48].sum(axis=1))
    dens = ms.densities()
    assert list(dens.columns) == LAYOUT.names and list(dens.index) == list(ms.obs.index)
    np.testing.assert_allclose(dens["fcs.2"], dense[:, 48:].mean(axis=1))
    with pytest.raises(AnalysisError, match="unknown layer 'nope'"):
        ms.dense(layer="nope")


def test_from_dense_accepts_per_layer_masks_and_obs():
    dense = random_dense(3)
    by_layer = {"fcs.0": dense[:, :36].reshape(3, 4, 9), "fcs.1": dense[:, 36:48].reshape(3, 3, 4)}
    by_layer["fcs.2"] = dense[:, 48:].reshape(3, 2, 3)
    obs = pd.DataFrame({"acc": [0.1, 0.2, 0.3]}, index=["a", "b", "c"])
    ms = MaskSet.from_dense(by_layer, LAYOUT, obs=obs)
    np.testing.assert_array_equal(ms.dense(), dense)
    assert list(ms.obs.columns) == ["acc", "n_kept"] and "n_kept" not in obs.columns
    with pytest.raises(AnalysisError, match="masks do not fit the layout"):
        MaskSet.from_dense(dense[:, :-1], LAYOUT)
    with pytest.raises(AnalysisError, match="obs has 2 rows for 3 masks"):
        MaskSet.from_dense(dense, LAYOUT, obs=obs.iloc[:2])


def test_from_rows_copies_and_refuses_padding_bits():
    rows = pack_flat(random_dense(2), LAYOUT)
    ms = MaskSet.from_rows(rows, LAYOUT)
    rows[:] = 0
    assert ms.counts().sum() > 0
    bad = ms.rows().copy()
    bad[0, LAYOUT["fcs.0"].byte_slice.stop - 1] |= 0x80
    with pytest.raises(AnalysisError, match="padding"):
        MaskSet.from_rows(bad, LAYOUT)


# subsetting ---------------------------------------------------------------------------------


def annotated(n: int = 6) -> MaskSet:
    ms = MaskSet.from_dense(random_dense(n), LAYOUT)
    ms.obsp["dist_hamming"] = np.arange(n * n, dtype=float).reshape(n, n)
    ms.obsp["dist_hamming_layers"] = np.arange(n * n * 3).reshape(n, n, 3)
    ms.obsm["X_pca"] = np.arange(n * 2, dtype=float).reshape(n, 2)
    ms.uns["distances"] = {"params": {"metric": "hamming"}}
    return ms


@pytest.mark.parametrize(
    "selector",
    [
        np.array([4, 0, 2]),
        [4, 0, 2],
        ["mask4", "mask0", "mask2"],
        slice(None, None, 2),
        np.array([True, False, True, False, True, False]),
        -2,
    ],
)
def test_subsetting_keeps_slots_aligned(selector):
    ms = annotated()
    pos = np.arange(6)[selector] if not isinstance(selector, list) else None
    if isinstance(selector, list):
        pos = np.array([4, 0, 2])
    pos = np.atleast_1d(pos)
    sub = ms[selector]
    assert list(sub.obs.index) == [f"mask{i}" for i in pos]
    np.testing.assert_array_equal(sub.dense(), ms.dense()[pos])
    np.testing.assert_array_equal(sub.obsp["dist_hamming"], ms.obsp["dist_hamming"][np.ix_(pos, pos)])
    np.testing.assert_array_equal(
        sub.obsp["dist_hamming_layers"], ms.obsp["dist_hamming_layers"][np.ix_(pos, pos)]
    )
    np.testing.assert_array_equal(sub.obsm["X_pca"], ms.obsm["X_pca"][pos])
    assert sub.uns["distances"] is ms.uns["distances"]  # shallow copy
    assert sub.X.sources[0] is ms.X.sources[0]  # no mask data copied


def test_per_mask_keys_follow_the_rows_of_a_subset_or_reordering():
    from landscape.analysis.cached import mask_ids

    ms = annotated()
    keys = list(mask_ids(ms))
    order = np.array([3, 1, 5, 0])
    sub = ms[order]
    assert sub.uns["_mask_ids"] == [keys[i] for i in order]  # carried, in the new order
    assert mask_ids(sub) == [keys[i] for i in order]
    relabelled = ms[order]
    relabelled.obs.index = [f"other{i}" for i in order]  # stale keys are not reused
    assert [k.split("@")[0] for k in mask_ids(relabelled)] == list(relabelled.obs.index)


def test_bad_selectors_are_refused():
    ms = annotated()
    with pytest.raises(AnalysisError, match="no mask labelled 'zzz'"):
        ms[["mask1", "zzz"]]
    with pytest.raises(AnalysisError, match="out of range"):
        ms[[6]]
    with pytest.raises(AnalysisError, match="boolean selector"):
        ms[np.array([True, False])]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_subsets_of_subsets_agree_with_dense_indexing(data):
    n = data.draw(st.integers(1, 8))
    ms = MaskSet.from_dense(random_dense(n, seed=n), LAYOUT)
    first = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=10, unique=True)), dtype=np.int64)
    sub = ms[first]
    m = len(first)
    second = np.array(
        data.draw(st.lists(st.integers(0, max(m - 1, 0)), max_size=10 if m else 0, unique=True)),
        dtype=np.int64,
    )
    subsub = sub[second]
    expected = ms.dense()[first][second]
    np.testing.assert_array_equal(subsub.dense(), expected.reshape(len(second), ms.n_weights))
    np.testing.assert_array_equal(subsub.counts(), expected.sum(axis=1))
    assert list(subsub.obs.index) == list(ms.obs.index[first][second])


def test_a_mask_selected_twice_is_refused():
    """``ms[[0, 1, 2, 0]]`` paired mask 0 with itself (Jaccard 1): a diversity of 5 masks and
    10 pairs, similarity and significance inflated; ``concat`` already refused repeats."""
    ms = annotated()
    with pytest.raises(AnalysisError, match=r"^mask 'mask0' is selected twice"):
        ms[[0, 1, 2, 0]]
    with pytest.raises(AnalysisError, match=r"^mask 'mask2' is selected twice"):
        ms[["mask2", "mask2"]]


def test_a_subset_drops_the_tool_results_of_the_whole_set():
    """A subset kept ``uns["diversity"]`` of the whole set: ``pl.diversity_vs`` of one network
    drew the mean over two. Results over the whole set are dropped; the plot asks for them."""
    from landscape import pl, tl

    layout = Layout([("fcs.0", (40, 90)), ("fcs.1", (30, 40))])
    obs = pd.DataFrame(
        {
            "weight_seed": [0] * 4 + [1] * 4,
            "search_seed": list(range(4)) * 2,
            "method": "edge_popup",
            "density": 0.4,
        },
        index=[f"m{i}" for i in range(8)],
    )
    ms = MaskSet.from_dense(np.random.default_rng(0).random((8, layout.n_weights)) < 0.4, layout, obs)
    tl.distances(ms)
    tl.diversity(ms)
    assert ms[np.arange(8)].uns["diversity"] is ms.uns["diversity"]  # every mask, in order: kept
    one = ms[(ms.obs["weight_seed"] == 0).to_numpy()]
    assert "diversity" not in one.uns and "distances" in one.uns  # obsp follows the rows
    with pytest.raises(AnalysisError, match=r'uns\["diversity"\] is missing: run landscape.tl.diversity'):
        pl.diversity_vs(one)
    tl.embed(ms, method="mds")  # an embedding's entry says how its coordinates were drawn
    assert ms[[0, 1, 4, 5]].uns["mds"] is ms.uns["mds"]
    tl.diversity(one)
    drawn = pl.data_of(pl.diversity_vs(one))
    summary = one.uns["diversity"]["summary"]
    whole = summary[summary["layer"] == "whole"]
    assert np.isclose(drawn["y"].iloc[0], whole["similarity"].iloc[0])
    own = 1 - one.obsp["dist_jaccard"][np.triu_indices(4, 1)]
    assert np.isclose(drawn["y"].iloc[0], own.mean())  # this network's 6 pairs, by hand


def test_copy_is_independent():
    ms = annotated()
    dup = ms.copy()
    dup.obs["extra"] = 1
    dup.obsp["dist_hamming"][0, 0] = -1
    dup.uns["distances"]["params"]["metric"] = "jaccard"
    assert "extra" not in ms.obs and ms.obsp["dist_hamming"][0, 0] == 0
    assert ms.uns["distances"]["params"]["metric"] == "hamming"
    np.testing.assert_array_equal(dup.dense(), ms.dense())


def test_repr_lists_slots():
    text = repr(annotated())
    assert text.startswith(f"MaskSet with n_masks × n_weights = 6 × {LAYOUT.n_weights}")
    assert "obsp: 'dist_hamming', 'dist_hamming_layers'" in text and "obsm: 'X_pca'" in text


# concatenation --------------------------------------------------------------------------------


def test_concat_stacks_and_refuses_clashes():
    a, b = (
        MaskSet.from_dense(random_dense(2, seed=1), LAYOUT),
        MaskSet.from_dense(random_dense(3, seed=2), LAYOUT),
    )
    with pytest.raises(AnalysisError, match="'mask0' appears twice"):
        MaskSet.concat([a, b])
    both = MaskSet.concat([a, b], index_unique="-")
    assert list(both.obs.index) == ["mask0-0", "mask1-0", "mask0-1", "mask1-1", "mask2-1"]
    np.testing.assert_array_equal(both.dense(), np.vstack([a.dense(), b.dense()]))
    np.testing.assert_array_equal(both[[1, 3]].dense(), np.vstack([a.dense()[1], b.dense()[1]]))
    other = Layout([("fcs.0", (4, 9)), ("fcs.1", (3, 4)), ("fcs.2", (2, 4))])
    c = MaskSet.from_dense(random_dense(1, other), other)
    c.obs["run_id"] = "abc"
    with pytest.raises(
        AnalysisError, match=r"different layouts: a set of 2 masks vs run abc \(layer 'fcs.2'"
    ):
        MaskSet.concat([a, c])


# read_runs ------------------------------------------------------------------------------------


def test_read_runs_builds_obs_from_the_store(tmp_path):
    store, dense = make_run(tmp_path)
    ms = read_runs(tmp_path)
    assert len(ms) == 4 and ms.layout == LAYOUT
    np.testing.assert_array_equal(ms.dense(), dense)
    assert list(ms.obs.index) == [f"{store.run_id}/w0/s{s}" for s in range(4)]
    row = ms.obs.iloc[1]
    assert (row["run_id"], row["method"], row["density"], row["weight_seed"], row["search_seed"]) == (
        store.run_id,
        "edge_popup",
        0.5,
        0,
        1,
    )
    assert row["test_acc"] == pytest.approx(0.8) and row["n_kept"] == dense[1].sum()
    assert row["model.name"] == "mlp" and row["train.epochs"] == 2 and row["model.hidden"] == (4, 3)
    assert ms.runs == {store.run_id: str(store.path)}
    assert ms.uns["skipped_runs"] == []
    assert len(ms.X.sources) == 2  # one memory map per shard
    assert read_runs(store.path).obs.index.equals(ms.obs.index)  # one run folder works too


def test_read_runs_skips_bad_runs_and_loads_the_rest(tmp_path):
    good, dense = make_run(tmp_path)
    truncated, _ = make_run(tmp_path, BASE.replace(**{"method.density": 0.3}))
    shard = next((truncated.path / "shards").glob("*.bin"))
    shard.write_bytes(shard.read_bytes()[:-1])
    no_manifest = RunStore.create(tmp_path, BASE.replace(**{"method.density": 0.2}), LAYOUT)
    bad_config, _ = make_run(tmp_path, BASE.replace(**{"method.density": 0.1}))
    (bad_config.path / "config.json").write_text("{oops")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ms = read_runs(tmp_path)
    assert len(ms) == 4 and set(ms.obs["run_id"]) == {good.run_id}
    np.testing.assert_array_equal(ms.dense(), dense)
    skipped = {r["path"]: r["reason"] for r in ms.uns["skipped_runs"]}
    assert set(skipped) == {str(truncated.path), str(no_manifest.path), str(bad_config.path)}
    assert skipped[str(truncated.path)].startswith(f"{shard}: truncated")
    assert "no manifest.json" in skipped[str(no_manifest.path)]
    assert "config.json: not valid JSON" in skipped[str(bad_config.path)]
    messages = [str(w.message) for w in caught]
    for path in skipped:
        assert any(m.startswith(f"{path}: run skipped") for m in messages)


def test_read_runs_skips_a_run_listing_a_mask_twice_and_loads_the_rest(tmp_path):
    good, dense = make_run(tmp_path)
    repeated, _ = make_run(tmp_path, BASE.replace(**{"method.density": 0.3}))
    manifest = json.loads((repeated.path / "manifest.json").read_text())
    manifest["shards"].append(manifest["shards"][0])  # listed twice (same files)
    (repeated.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match=f"{repeated.path}: run skipped"):
        ms = read_runs(tmp_path)
    assert set(ms.obs["run_id"]) == {good.run_id}
    np.testing.assert_array_equal(ms.dense(), dense)
    (skipped,) = ms.uns["skipped_runs"]
    assert skipped["path"] == str(repeated.path) and "mask w0/s0 is listed twice" in skipped["reason"]


def test_read_runs_where_selects_masks_and_layouts(tmp_path):
    a, _ = make_run(tmp_path)
    b, _ = make_run(
        tmp_path, BASE.replace(**{"method.name": "biprop", "model.weight_init": "kaiming_normal"}), seed=1
    )
    wide = Layout([("fcs.0", (5, 9)), ("fcs.1", (3, 5)), ("fcs.2", (2, 3))])
    c, _ = make_run(tmp_path, BASE.replace(**{"model.hidden": [5, 3]}), layout=wide)
    with pytest.raises(AnalysisError, match=rf"2 different layouts.*{c.run_id}"):
        read_runs(tmp_path)
    ms = read_runs(tmp_path, where="method == 'biprop' and search_seed < 2")
    assert list(ms.obs.index) == [f"{b.run_id}/w0/s0", f"{b.run_id}/w0/s1"]
    ms = read_runs(tmp_path, where={"model.hidden": [(4, 3)], "search_seed": 3})
    assert sorted(ms.obs.index) == sorted([f"{a.run_id}/w0/s3", f"{b.run_id}/w0/s3"])
    ms = read_runs(tmp_path, where={"model.hidden": [(5, 3)]})
    assert set(ms.obs["run_id"]) == {c.run_id} and ms.layout == wide
    with pytest.raises(AnalysisError, match="2 different layouts"):
        read_runs(tmp_path, where="`train.epochs` == 2 and method != 'biprop'")
    with pytest.raises(AnalysisError, match="selects no masks"):
        read_runs(tmp_path, where={"method": "iterand"})
    with pytest.raises(AnalysisError, match="unknown column 'nope'"):
        read_runs(tmp_path, where={"nope": 1})
    with pytest.raises(AnalysisError, match="where='method =='"):
        read_runs(tmp_path, where="method ==")


def test_read_runs_without_runs_is_an_analysis_error(tmp_path):
    with pytest.raises(AnalysisError, match="does not exist"):
        read_runs(tmp_path / "missing")
    (tmp_path / "runs").mkdir()
    with pytest.raises(AnalysisError, match="no runs found"):
        read_runs(tmp_path / "runs")
    RunStore.create(tmp_path / "runs", BASE, LAYOUT)
    with (
        pytest.warns(UserWarning, match="no manifest"),
        pytest.raises(AnalysisError, match="no readable runs"),
    ):
        read_runs(tmp_path / "runs")


def test_import_does_not_load_torch():
    code = "import landscape, sys; landscape.read_runs; landscape.MaskSet; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert landscape.read_runs is read_runs


def test_a_boolean_series_selects_by_label_not_position():
    import numpy as np
    import pandas as pd

    from landscape import pp
    from landscape.maskset import MaskSet
    from landscape.store.layout import Layout

    layout = Layout([("a", (3, 5))])
    masks = np.random.default_rng(0).random((4, 15)) < 0.5
    obs = pd.DataFrame({"acc": [0.1, 0.9, 0.2, 0.8]}, index=["m0", "m1", "m2", "m3"])
    ms = MaskSet.from_dense(masks, layout, obs)
    selector = ms.obs.sort_values("acc")["acc"] > 0.5  # index order m0, m2, m3, m1
    assert list(ms[selector].obs.index) == ["m1", "m3"]
    assert list(pp.subset(ms, selector).obs.index) == ["m1", "m3"]


def test_a_query_with_an_unknown_column_names_it_and_the_nearest_one():
    from landscape.errors import AnalysisError
    from landscape.maskset import select_obs

    obs = pd.DataFrame({"density": [0.5, 0.3], "train.epochs": [2, 3], "method": ["a", "b"]})
    assert select_obs(obs, "`train.epochs` == 2 and density > 0.4").tolist() == [True, False]
    cases = {
        "densty > 0.4": "no column 'densty'; did you mean density?",
        "`train.epoch` == 2": "no column 'train.epoch'; did you mean `train.epochs`? (dotted columns need backticks)",
        "train.epochs == 2": "no column 'train': a dotted column needs backticks, e.g. `train.epochs`",
    }
    for query, said in cases.items():
        with pytest.raises(AnalysisError) as info:
            select_obs(obs, query)
        assert str(info.value) == f"where={query!r}: {said}"
    with pytest.raises(AnalysisError, match=r"^where='density >': SyntaxError"):  # other errors as before
        select_obs(obs, "density >")
