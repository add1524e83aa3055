"""``landscape analyze`` / ``landscape.analysis.analyze`` on a small runs root."""

import shutil

import numpy as np
import pandas as pd
import pytest

from landscape.analysis import analyze
from landscape.cli import main


@pytest.fixture(scope="module")
def analysed(tiny_runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("analyse") / "runs"
    shutil.copytree(tiny_runs, root)
    return root, analyze(root, barriers=1, embed=("mds", "pca"), progress=False)


def test_diversity_reports_whole_network_and_every_layer_beside_chance(analysed):
    _, result = analysed
    div = result.tables["diversity"]
    ep = div[(div["method"] == "edge_popup") & (div["metric"] == "jaccard")]
    layers = list(ep["layer"])
    assert layers[0] == "whole" and layers[1:] == ["fcs.0", "fcs.1", "fcs.2"]
    assert ep["chance_similarity"].between(0.3, 0.4).all()  # Jaccard similarity of random halves ≈ 1/3
    np.testing.assert_allclose(ep["excess_similarity"], ep["similarity"] - ep["chance_similarity"])
    assert (ep["excess_ci_low"] <= ep["excess_similarity"]).all()
    assert (ep["excess_similarity"] <= ep["excess_ci_high"]).all()
    # the random null sits on its own baseline; searched masks may not
    rnd = div[(div["method"] == "random") & (div["metric"] == "jaccard") & (div["layer"] == "whole")]
    assert abs(float(rnd["excess_similarity"].iloc[0])) < 0.01
    assert set(result.tables["diversity_summary"]["interval"]) == {"masks"}  # one network each


def test_summary_shows_accuracy_diversity_input_layer_and_barriers(analysed):
    _, result = analysed
    text = result.summary()
    assert "test accuracy" in text and "every weight kept" in text
    assert "Jaccard similarity" in text and "fcs.0" in text  # per-layer excess, input layer first
    assert "95% interval" in text and "loss barriers" in text
    bar = result.tables["barriers"]
    assert set(bar["path"]) == {"linear", "swap"}
    assert not bar["method"].isin(["dense"]).any()


def test_tables_are_written_and_results_reused(analysed):
    root, result = analysed
    for name in ("masks", "diversity", "diversity_summary", "baseline", "consensus", "barriers", "embedding"):
        assert (root / "_analysis" / f"{name}.csv").stat().st_size > 0
    again = analyze(root, barriers=1, embed=("mds", "pca"), progress=False)
    assert again.work["distances"] == {"computed": 0, "reused": 1}
    assert again.work["barrier curves"]["computed"] == 0 and again.work["barrier curves"]["reused"] > 0
    pd.testing.assert_frame_equal(again.tables["diversity"], result.tables["diversity"])
    pd.testing.assert_frame_equal(again.tables["barriers"], result.tables["barriers"])


def test_cli_prints_the_summary_and_names_skipped_runs(analysed, capsys):
    root, _ = analysed
    broken = root / "not-a-run"
    broken.mkdir(exist_ok=True)
    (broken / "config.json").write_text("{ not json")
    assert main(["analyze", str(root), "--embed", "pca"]) == 0
    out = capsys.readouterr().out
    assert "skipped (not analysed)" in out and "not-a-run" in out
    assert "masks in 3 runs" in out


def test_results_follow_the_runs_files_and_an_out_folder_inside_the_root(tiny_runs, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis"))
    out = root / "tables"
    first = analyze(root, metrics="jaccard", embed=(), out=out, progress=False)
    assert first.work["distances"]["computed"] == 1 and not first.skipped  # out is never a run
    assert (
        analyze(root, metrics="jaccard", embed=(), out=out, progress=False).work["distances"]["reused"] == 1
    )
    shard = next(root.glob("*/shards/*.bin"))
    shard.write_bytes(shard.read_bytes()[:-8])  # damage a run after it was analysed
    again = analyze(root, metrics="jaccard", embed=(), out=out, progress=False)
    assert any(shard.parent.parent.name in s for s in again.skipped)
    # the remaining masks are a subset of the analysed ones: their counts are reused
    assert again.work["distances"] == {"computed": 0, "reused": 1}
    assert len(again.tables["masks"]) == len(first.tables["masks"]) - 4


def test_figures_from_the_cli_use_the_barriers_of_an_earlier_analysis(analysed, tmp_path, capsys):
    root, _ = analysed
    assert main(["analyze", str(root), "--barriers", "1", "--embed", "mds"]) == 0
    capsys.readouterr()
    out = tmp_path / "figs"
    assert main(["figures", "interpolation", "barrier_matrix", "--runs", str(root), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "skipped" not in text
    assert (out / "interpolation.png").stat().st_size > 0 and (out / "barrier_matrix.png").stat().st_size > 0


def test_cli_memory_budget_gives_the_same_tables_from_resumable_tiles(analysed, tmp_path):
    """``--memory`` computes the distances as tiles kept under the analysis folder; every
    table equals the in-memory analysis."""
    import pandas as pd

    root, _ = analysed
    args = ["analyze", str(root), "--embed", "mds", "pca", "--no-cache"]
    assert main([*args, "--out", str(tmp_path / "in_memory")]) == 0
    assert main([*args, "--out", str(tmp_path / "tiled"), "--memory", "64MB"]) == 0
    assert list((tmp_path / "tiled" / "tiles").glob("*/tiles/r*.npz"))
    for name in ("diversity", "baseline", "embedding", "consensus"):
        tiled = pd.read_csv(tmp_path / "tiled" / f"{name}.csv")
        pd.testing.assert_frame_equal(tiled, pd.read_csv(tmp_path / "in_memory" / f"{name}.csv"))
    assert main(["analyze", str(root), "--memory", "lots", "--out", str(tmp_path / "x")]) == 2


def test_no_cache_with_a_memory_budget_computes_every_tile_again(analysed, tmp_path):
    root, _ = analysed
    args = ["analyze", str(root), "--embed", "pca", "--out", str(tmp_path / "tiled"), "--memory", "64MB"]
    assert main(args) == 0
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "tiled" / "tiles").glob("*/tiles/r*.npz")}
    assert first
    assert main([*args, "--no-cache"]) == 0
    again = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "tiled" / "tiles").glob("*/tiles/r*.npz")}
    assert set(again) == set(first) and not set(again.values()) & set(first.values())  # all rewritten


def _copy_of(analysed, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(analysed[0], root)
    return root


def _damaged_lines(out: str) -> list[str]:
    """The lines of a printed summary listing damaged stored files."""
    if "damaged stored files" not in out:
        return []
    listed = out[out.index("damaged stored files") :].split("\n\n")[0]
    return [line.strip() for line in listed.splitlines()[1:]]


def test_cli_names_a_damaged_result_and_says_whether_it_is_recomputed(analysed, tmp_path, capsys):
    root = _copy_of(analysed, tmp_path)
    entry = sorted((root / "_analysis" / "results" / "barrier_curve").glob("*.json"))[0]
    entry.write_bytes(entry.read_bytes()[:20])
    assert main(["analyze", str(root), "--embed"]) == 0  # no barriers asked for: only left out
    (line,) = _damaged_lines(capsys.readouterr().out)
    assert line.startswith(str(entry)) and line.endswith("the entry is ignored")
    assert main(["analyze", str(root), "--embed", "--barriers", "1"]) == 0  # one of its pairs
    (line,) = _damaged_lines(capsys.readouterr().out)
    assert line.startswith(str(entry)) and line.endswith("ignored and will be recomputed")
    assert main(["analyze", str(root), "--embed"]) == 0
    assert not _damaged_lines(capsys.readouterr().out)  # recomputed and stored again


def test_a_damaged_result_is_warned_once_in_a_notebook_and_listed(analysed, tmp_path):
    from landscape.errors import DamagedFileWarning

    root = _copy_of(analysed, tmp_path)
    entry = sorted((root / "_analysis" / "results" / "intersections").glob("*.json"))[0]
    entry.write_bytes(entry.read_bytes()[:20])
    with pytest.warns(DamagedFileWarning) as caught:
        result = analyze(root, embed=(), progress=False)
    assert [str(w.message) for w in caught if str(entry) in str(w.message)] == result.damaged
    assert len(result.damaged) == 1 and result.damaged[0].endswith("ignored and will be recomputed")
    assert result.work["distances"] == {"computed": 1, "reused": 0}


def test_cli_names_a_damaged_tile_it_recomputed(analysed, tmp_path, capsys):
    args = ["analyze", str(analysed[0]), "--embed", "--memory", "64MB", "--out"]
    assert main([*args, str(tmp_path / "first")]) == 0
    capsys.readouterr()
    # the tiles of a killed analysis: its folder holds them, but no distances yet
    shutil.copytree(tmp_path / "first" / "tiles", tmp_path / "second" / "tiles")
    tile = sorted(tmp_path.glob("second/tiles/*/tiles/r*.npz"))[0]
    data = bytearray(tile.read_bytes())
    data[-30] ^= 0xFF
    tile.write_bytes(bytes(data))
    assert main([*args, str(tmp_path / "second")]) == 0
    (line,) = _damaged_lines(capsys.readouterr().out)
    assert line == f"{tile}: damaged tile removed; it will be recomputed"


def test_a_run_with_masks_still_planned_is_said_to_be_unfinished(tmp_path):
    from landscape.reading import read_runs
    from tests.conftest import search_tiny

    store = search_tiny(tmp_path, "edge_popup", search_seeds=range(2))
    store.add_plan([(0, s) for s in range(4)])  # two more asked for, not (yet) searched
    ms = read_runs(tmp_path)
    assert ms.uns["unfinished_runs"] == [{"path": str(store.path), "masks": 2, "planned": 4}]
    result = analyze(tmp_path, embed=(), progress=False)
    assert result.unfinished == [f"{store.path}: 2 of 4 planned masks"]
    assert "searches not finished" in result.summary() and "2 of 4 planned masks" in result.summary()
    search_tiny(tmp_path, "edge_popup", search_seeds=range(2, 4))  # finished: nothing to say
    assert analyze(tmp_path, embed=(), progress=False).unfinished == []


def test_summary_refuses_two_groups_under_one_label_instead_of_averaging_them(analysed):
    from landscape.analysis.function import format_function
    from landscape.analysis.summary import _diversity_table
    from landscape.errors import AnalysisError

    _, result = analysed
    part = result.tables["diversity_summary"]
    merged = part[part["metric"] == "jaccard"].assign(group="masks")  # three groups, one label
    with pytest.raises(AnalysisError, match="share a label"):
        _diversity_table(merged)
    tables = {name: result.tables[name] for name in ("agreement_summary", "ensemble_summary")}
    twice = {name: pd.concat([t, t]) for name, t in tables.items()}
    with pytest.raises(AnalysisError, match="share a label"):
        format_function(twice)


def test_every_weight_kept_averages_the_runs_a_group_pools_at_one_network():
    from landscape.analysis.summary import _accuracy_table

    masks = pd.DataFrame(
        {
            "group": ["edge_popup"] * 4,
            "run_id": ["a", "a", "b", "b"],  # two configurations pooled, each its own random network
            "weight_seed": 0,
            "test_acc": [0.7, 0.8, 0.6, 0.7],
            "all_ones_test_acc": [0.1, 0.1, 0.3, 0.3],
        }
    )
    assert _accuracy_table(masks)["every weight kept"].tolist() == ["0.2000"]


def test_summary_never_prints_an_untestable_similarity_as_significant(tmp_path):
    from types import SimpleNamespace

    from landscape import tl
    from landscape.analysis.summary import _diversity_table, format_summary
    from landscape.maskset import MaskSet
    from landscape.store.layout import Layout

    # a weight-training group keeps every weight: its masks are identical, as random masks of
    # its counts are, so the test has no variance and its p-value is NaN
    rng = np.random.default_rng(0)
    masks = np.vstack([np.ones((4, 128), bool), rng.random((4, 128)) < 0.5])
    obs = pd.DataFrame({"run_id": ["d"] * 4 + ["r"] * 4, "method": ["dense"] * 4 + ["random"] * 4,
                        "density": [1.0] * 4 + [0.5] * 4, "weight_seed": 0, "search_seed": [0, 1, 2, 3] * 2})  # fmt: skip
    ms = MaskSet.from_dense(masks, Layout([("a", (64,)), ("b", (64,))]), obs)
    tl.distances(ms, metric="jaccard", per_layer=True)
    per_network = tl.diversity(ms, metric="jaccard")
    summary = ms.uns["diversity"]["summary"]
    assert np.isnan(summary.loc[summary["group"].str.startswith("dense"), "p_value"]).all()
    printed = _diversity_table(summary).set_index("group")["p"]
    assert printed["dense · density 1"] == "—" and printed["random · density 0.5"] != "—"
    result = SimpleNamespace(tables={"diversity_summary": summary, "diversity": per_network}, work={},
                             skipped=[], out_dir=tmp_path)  # fmt: skip
    text = format_summary(result)
    table = text[text.index("Jaccard") : text.index("not shown")]
    assert "random · density 0.5" in table and "dense" not in table and "<1e-16" not in text
    assert "not shown: dense · density 1 (every mask keeps every weight" in text


def test_an_accuracy_over_some_of_a_groups_masks_says_over_how_many():
    from landscape.analysis.summary import _accuracy_table

    masks = pd.DataFrame(
        {
            "group": ["edge_popup"] * 4 + ["biprop"] * 2,
            "test_acc": [0.9, 0.8, np.nan, np.nan, 0.7, 0.6],
            "selected_on": [np.nan, np.nan, "test", "test", np.nan, np.nan],
            "weight_seed": [0, 0, 1, 1, 0, 0],
        }
    )
    shown = _accuracy_table(masks).set_index("group")["test_acc"]
    assert shown["edge_popup"] == "0.8500 ± 0.0707 (2 of 4 masks; the others selected on the test set)"
    assert shown["biprop"] == "0.6500 ± 0.0707"  # every mask recorded: nothing to add


def test_per_network_rows_get_the_analysis_wide_labels_too():
    # consensus and input frequency name each network of a group that spans several
    # ("<group> · weight seed 1"); with two layouts those rows must get the layout-wide names
    from landscape.analysis.labels import with_labels

    names = {"edge_popup": "edge_popup · hidden 48-32"}
    frame = pd.DataFrame({"group": ["edge_popup", "edge_popup · weight seed 1", "biprop · weight seed 0"]})
    assert with_labels(frame, names)["group"].tolist() == [
        "edge_popup · hidden 48-32",
        "edge_popup · hidden 48-32 · weight seed 1",
        "biprop · weight seed 0",
    ]


def test_masks_table_leaves_empty_the_data_fields_a_dataset_never_reads():
    # digits reads no input shape and no MNIST-1D generator arguments: their schema defaults
    # ([3, 32, 32], seed 42) would read as facts about the data in masks.csv
    from landscape.analysis.views import masks_table
    from landscape.maskset import MaskSet
    from landscape.store.layout import Layout

    obs = pd.DataFrame(
        {"method": "edge_popup", "density": 0.5, "data.name": ["digits", "mnist1d"],
         "data.split_seed": 0, "data.input_shape": [(3, 32, 32)] * 2, "data.mnist1d.seed": 42},
        index=["a/w0/s0", "b/w0/s0"],
    )  # fmt: skip
    ms = MaskSet.from_dense(np.ones((2, 6), dtype=bool), Layout([("fcs.0", (2, 3))]), obs)
    table = masks_table(ms, "config").set_index("mask")
    assert table.loc["a/w0/s0", "data.split_seed"] == 0 and table.loc["b/w0/s0", "data.mnist1d.seed"] == 42
    assert pd.isna(table.loc["a/w0/s0", "data.mnist1d.seed"]) and pd.isna(
        table.loc["a/w0/s0", "data.input_shape"]
    )
    assert pd.isna(table.loc["b/w0/s0", "data.input_shape"])


def test_accuracy_interval_runs_over_masks_of_one_network_or_over_network_means():
    from scipy import stats

    from landscape.analysis.summary import _mean_interval

    acc = np.array([0.90, 0.92, 0.95, 0.91])
    half = stats.t.ppf(0.975, 3) * acc.std(ddof=1) / 2
    one = pd.DataFrame({"test_acc": acc, "weight_seed": 0})
    assert _mean_interval(one) == f"[{acc.mean() - half:.4f}, {acc.mean() + half:.4f}]"
    # two networks: the unit is a network (its masks share its weights), 1 degree of freedom
    two = pd.DataFrame({"test_acc": acc, "weight_seed": [0, 0, 1, 1]})
    means = np.array([0.91, 0.93])
    half = stats.t.ppf(0.975, 1) * means.std(ddof=1) / np.sqrt(2)
    assert _mean_interval(two) == f"[{means.mean() - half:.4f}, {means.mean() + half:.4f}]"
    assert _mean_interval(one.iloc[:1]) == "[—]"


def test_the_accuracy_table_counts_networks_as_the_tools_pair_masks():
    # a group pooling Edge-Popup (signed constants) and Biprop (Kaiming normal) of one seed
    # holds two networks; its interval runs over their two means (1 degree of freedom)
    from scipy import stats

    from landscape.analysis.summary import _accuracy_table

    masks = pd.DataFrame(
        {"group": "density 0.5", "run_id": ["a"] * 3 + ["b"] * 3, "weight_seed": 0,
         "model.weight_init": ["signed_constant"] * 3 + ["kaiming_normal"] * 3,
         "test_acc": [0.90, 0.91, 0.92, 0.95, 0.96, 0.97]}
    )  # fmt: skip
    row = _accuracy_table(masks).iloc[0]
    assert row["networks"] == 2 and row["masks"] == 6
    means = np.array([0.91, 0.96])
    half = stats.t.ppf(0.975, 1) * means.std(ddof=1) / np.sqrt(2)
    assert row["95% CI"] == f"[{means.mean() - half:.4f}, {means.mean() + half:.4f}]"
    one = _accuracy_table(masks.assign(**{"model.weight_init": "kaiming_normal"})).iloc[0]
    assert one["networks"] == 1


def test_the_function_table_gives_each_ratio_its_interval():
    from landscape.analysis.function import format_function

    agree = pd.DataFrame(
        {"group": ["a", "b"], "n_masks": [4, 3], "accuracy": [0.9, 0.8], "disagreement": [0.05, 0.1],
         "normalised_disagreement": [0.5, 0.6], "normalised_disagreement_ci_low": [0.4, np.nan],
         "normalised_disagreement_ci_high": [0.6, np.nan], "error_ratio": [1.5, 2.0],
         "error_ratio_ci_low": [1.2, np.nan], "error_ratio_ci_high": [1.8, np.nan],
         "structural_diversity": [0.95, np.nan], "structural_diversity_ci_low": [0.94, np.nan],
         "structural_diversity_ci_high": [0.96, np.nan]}
    )  # fmt: skip
    text = "\n".join(format_function({"agreement_summary": agree}))
    assert "1.50 [1.20, 1.80]" in text and "0.950 [0.940, 0.960]" in text
    assert "2.00 [—]" in text and "each [95% interval]" in text


def _store_and_masks(tmp_path):
    from landscape.maskset import MaskSet
    from landscape.store.layout import Layout
    from landscape.store.results import ResultStore

    layout = Layout([("fcs.0", (4, 9)), ("fcs.1", (3, 4))])
    dense = np.random.default_rng(0).random((5, layout.n_weights)) < 0.4
    return ResultStore(tmp_path / "_analysis"), MaskSet.from_dense(dense, layout)


def _jaccard(ms):
    from landscape import tl

    truth = ms.copy()
    tl.distances(truth, metric="jaccard")
    return truth.obsp["dist_jaccard"]


def test_stored_distances_of_a_reordered_set_are_reused_for_the_masks_they_belong_to(tmp_path):
    from landscape.analysis import cached

    store, ms = _store_and_masks(tmp_path)
    cached.mask_ids(ms)  # keys made before reordering must not be carried to other rows
    reordered = ms[np.array([3, 0, 4, 1, 2])]
    assert cached.distances(reordered, ("jaccard",), store) == "computed"
    np.testing.assert_allclose(reordered.obsp["dist_jaccard"], _jaccard(reordered))
    fresh = ms.copy()
    del fresh.uns["_mask_ids"]
    assert cached.distances(fresh, ("jaccard",), store) == "reused"  # from the reordered entry
    np.testing.assert_allclose(fresh.obsp["dist_jaccard"], _jaccard(ms))


def test_distances_of_an_older_computation_version_are_never_reused(tmp_path, monkeypatch):
    from landscape.analysis import cached
    from landscape.store import results

    store, ms = _store_and_masks(tmp_path)
    assert cached.distances(ms, ("jaccard",), store) == "computed"
    monkeypatch.setitem(results.VERSIONS, "intersections", results.VERSIONS["intersections"] + 1)
    assert not cached.stored_distances(ms[[0, 1]], ("jaccard",), store)  # no superset of the old version
    assert cached.distances(ms, ("jaccard",), store) == "computed"
    assert len(list(store.records("intersections"))) == 1  # the new one
    assert len(list(store.records("intersections", every_version=True))) == 2  # the old one kept


def test_warnings_passed_on_by_an_analysis_keep_their_module():
    """Warnings an analysis collects are passed on under their module's name, so a filter by
    module (here: show only the toolkit's own baseline module) still decides them."""
    import warnings

    from landscape.analysis import _damaged_files
    from landscape.tl import baseline

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("ignore")
        warnings.filterwarnings("always", module=r"landscape\.tl\.baseline")
        with _damaged_files():
            warnings.warn_explicit(
                "a note", UserWarning, baseline.__file__, 1, module="landscape.tl.baseline"
            )
    assert [str(w.message) for w in shown] == ["a note"]


def test_a_memory_budget_holds_when_distances_are_stored_or_too_large_to_store(analysed, tmp_path):
    """A re-analysis under a budget does not read a stored entry whole when its slots do not
    fit; results memory-mapped under a budget are not copied into the store either."""
    from landscape.analysis import cached
    from landscape.reading import read_runs
    from landscape.store.results import ResultStore

    root, _ = analysed
    metrics = ("jaccard", "hamming")
    reference = read_runs(root)
    store = ResultStore(tmp_path)
    assert cached.distances(reference, metrics, store) == "computed"  # an in-memory analysis stored them
    n, n_layers = len(reference), len(reference.layout)
    slots = 8 * n * n * (n_layers + 1) * (1 + len(metrics))  # counts and metrics, whole and per layer
    small = 3_000  # its share for results (half) holds the whole-network counts, not the rest
    assert small // 2 < slots
    budgeted = read_runs(root)
    from landscape.tl._tilejob import TileJob

    TileJob.prepare(budgeted, tmp_path / "tiles", small, block_rows=2, range_words=2)  # tiles this small
    assert cached.distances(budgeted, metrics, store, memory=small, tiles=tmp_path / "tiles") == "computed"
    assert isinstance(budgeted.obsp["intersection_layers"], np.memmap)  # within the budget, on disk
    for slot, value in reference.obsp.items():
        np.testing.assert_array_equal(np.asarray(budgeted.obsp[slot]), value, err_msg=slot)
    entries = [key for key, _ in store.records("intersections")]
    assert len(entries) == 1  # the memory-mapped result was not stored beside the in-memory one
    assert (
        cached.distances(read_runs(root), metrics, store, memory=slots * 4, tiles=tmp_path / "tiles")
        == "reused"
    )
