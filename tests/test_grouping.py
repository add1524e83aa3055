"""Groups are configurations: runs that differ in any config field are never pooled unless
asked, and then the output says what was pooled. The same rule in tl, analyze, pl and figures."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from landscape import pl, tl
from landscape.analysis import analyze
from landscape.cli import main
from landscape.grouping import group_masks
from landscape.maskset import MaskSet
from landscape.pl._common import group_labels as pl_group_labels
from landscape.reading import read_runs
from landscape.store.layout import Layout
from tests.conftest import search_tiny

VARIANTS = {  # each differs from the first in one field only
    "base": [],
    "epochs": ["train.epochs=1"],
    "init": ["model.weight_init=kaiming_normal"],
    "lr": ["train.lr=0.05"],
}


@pytest.fixture(scope="module")
def variant_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    for extra in VARIANTS.values():
        search_tiny(root, "edge_popup", range(3), extra=extra)
    return root


def test_runs_differing_in_one_field_are_separate_groups_labelled_by_it(variant_runs):
    ms = read_runs(variant_runs)
    groups = group_masks(ms.obs)
    assert len(groups) == 4 and all(g.n_masks == 3 and not g.pooled for g in groups)
    labels = {g.label for g in groups}
    # only the fields that differ between the groups shown, never ids
    assert labels == {
        "init signed_constant · epochs 3 · lr 0.1",
        "init signed_constant · epochs 1 · lr 0.1",
        "init kaiming_normal · epochs 3 · lr 0.1",
        "init signed_constant · epochs 3 · lr 0.05",
    }
    two = ms[
        ms.obs["train.epochs"].isin([1, 3])
        & (ms.obs["train.lr"] == 0.1)
        & (ms.obs["model.weight_init"] == "signed_constant")
    ]
    assert {g.label for g in group_masks(two.obs)} == {"epochs 3", "epochs 1"}


def test_tools_never_pool_configurations_by_default(variant_runs):
    ms = read_runs(variant_runs)
    tl.distances(ms, per_layer=True)
    div = tl.diversity(ms)
    whole = div[div["layer"] == "whole"]
    assert len(whole) == 4 and (whole["n_pairs"] == 3).all() and (whole["pooled"] == "").all()
    base = tl.random_baseline(ms, per_layer=False, metric="jaccard")
    assert len(base) == 4 and (base["n_pairs"] == 3).all()
    cons = tl.consensus(ms)
    assert cons["group"].nunique() == 4 and (cons["n_masks"] == 3).all()


def test_pooling_on_request_names_what_was_pooled(variant_runs):
    ms = read_runs(variant_runs)
    tl.distances(ms)
    div = tl.diversity(ms, groupby=("method", "density"))
    # pooled, but masks over other weights are never paired: the Kaiming normal run draws
    # another network from weight seed 0 than the three signed-constant runs
    assert div["n_masks"].tolist() == [9, 3] and div["n_pairs"].tolist() == [36, 3]
    assert div["weight_seed"].tolist() == [
        "weight seed 0 · init signed_constant",
        "weight seed 0 · init kaiming_normal",
    ]
    assert set(div["pooled"]) == {div["pooled"].iloc[0]}
    pooled = div["pooled"].iloc[0]
    assert (
        "epochs 1, 3" in pooled
        and "lr 0.05, 0.1" in pooled
        and "init kaiming_normal, signed_constant" in pooled
    )
    result = analyze(variant_runs, groupby=("method", "density"), embed=(), progress=False)
    assert "pooled on request" in result.summary() and "epochs 1, 3" in result.summary()


def test_analyze_and_its_summary_keep_the_groups_apart(variant_runs):
    result = analyze(variant_runs, embed=(), progress=False)
    summary = result.tables["diversity_summary"]
    assert summary[summary["layer"] == "whole"].shape[0] == 2 * 4  # two metrics x four groups
    text = result.summary()
    assert "4 groups" in text and "init kaiming_normal · epochs 3 · lr 0.1" in text


def test_figures_draw_one_group_per_configuration(variant_runs, tmp_path):
    ms = read_runs(variant_runs, where="`train.lr` == 0.1 and `model.weight_init` == 'signed_constant'")
    tl.distances(ms, per_layer=True)
    ax = pl.layer_overlap(ms)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "epochs 3" in legend and "epochs 1" in legend
    ax = pl.accuracy_vs(ms.obs, x="density")  # the x field varies along a curve, epochs split curves
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"epochs 3", "epochs 1"}
    pooled = pl.layer_overlap(ms, groupby="method")  # on request, and the legend says so
    assert "Edge-Popup (pools epochs 1, 3)" in [t.get_text() for t in pooled.get_legend().get_texts()]


def test_barriers_accumulate_across_analyses_and_nothing_is_lost(tiny_runs, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis"))
    results = root / "_analysis" / "results" / "barrier_curve"
    assert main(["analyze", str(root), "--barriers", "2", "--points", "3", "--embed", "pca"]) == 0
    first = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    # 3 runs (one network each), 2 pairs each, linear and swap paths
    assert len(first) == 3 * 2 * 2 and "12 curves computed now, 0 reused" in capsys.readouterr().out
    assert main(["analyze", str(root), "--where", "method == 'edge_popup'", "--embed", "pca"]) == 0
    out = capsys.readouterr().out
    assert "loss barriers" in out  # the stored curves of the selected masks are still shown
    table = pd.read_csv(root / "_analysis" / "barriers.csv")
    assert len(table) == 2 * 2 and set(table["method"]) == {"edge_popup"}
    assert main(["analyze", str(root), "--barriers", "4", "--points", "3", "--embed", "pca"]) == 0
    assert "12 curves computed now, 12 reused" in capsys.readouterr().out  # 2 more pairs per run
    after = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert len(after) == 24 and all(after[name] == stamp for name, stamp in first.items())
    record = json.loads((root / "_analysis" / "landscape-analysis.json").read_text())
    assert record["work"]["barrier curves"] == {"computed": 12, "reused": 12}
    figs = tmp_path / "figs"
    assert main(["figures", "interpolation", "barrier_matrix", "--runs", str(root), "--out", str(figs)]) == 0
    assert "skipped" not in capsys.readouterr().out
    assert (figs / "interpolation.png").stat().st_size > 0 and (
        figs / "barrier_matrix.png"
    ).stat().st_size > 0


def test_clean_removes_only_what_it_is_asked_to(tiny_runs, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis"))
    assert main(["analyze", str(root), "--barriers", "1", "--points", "2", "--embed", "pca"]) == 0
    results = root / "_analysis" / "results"
    n = len(list(results.glob("*/*.json")))
    assert main(["clean", str(root)]) == 0
    assert (
        "removed 0 analysis results (stale)" in capsys.readouterr().out
        and len(list(results.glob("*/*.json"))) == n
    )
    shutil.rmtree(next(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")))
    assert main(["clean", str(root)]) == 0
    # the removed run's curves and the distances that included its masks went; the rest stay
    assert len(list(results.glob("barrier_curve/*.json"))) == 2 * 2
    assert not list(results.glob("intersections/*.json"))
    assert not list(results.glob("function_tables/*.json"))  # they used the removed run's masks
    assert main(["clean", str(root), "--all"]) == 0
    # curves, distances, the agreement and ensemble tables, and a PCA per network: Biprop's
    # Kaiming normal weights and the signed constants of the other two runs
    assert not list(results.glob("*/*.json")) and n == 3 * 2 + 1 + 1 + 2


def test_clean_keeps_the_results_of_every_root_that_wrote_into_a_shared_folder(tiny_runs, tmp_path, capsys):
    from landscape.analysis.roots import ROOTS_FILE

    a, b = tmp_path / "a", tmp_path / "b"
    for root, methods in ((a, ("edge_popup",)), (b, ("biprop", "random"))):
        root.mkdir()
        for run in tiny_runs.iterdir():
            if (
                run.is_dir()
                and not run.name.startswith("_")
                and json.loads((run / "config.json").read_text())["method"]["name"] in methods
            ):
                shutil.copytree(run, root / run.name)
    shared = a / "_analysis"
    assert main(["analyze", str(a), "--embed", "pca"]) == 0
    assert main(["analyze", str(b), "--out", str(shared), "--embed", "pca"]) == 0
    results = shared / "results"
    n = len(list(results.glob("*/*.json")))
    empty = tmp_path / "empty"
    empty.mkdir()
    one_run = next(p for p in a.iterdir() if p.is_dir() and not p.name.startswith("_"))
    capsys.readouterr()
    # another root, an empty one, one run directory: none of them makes the others' results stale
    for runs in (b, empty, one_run, a):
        assert main(["clean", str(runs), "--out", str(shared)]) == 0
        assert "removed 0 analysis results (stale)" in capsys.readouterr().out
    assert main(["clean", str(a)]) == 0 and len(list(results.glob("*/*.json"))) == n
    capsys.readouterr()
    # a run of the other root removed: its results are stale, whichever root cleans
    shutil.rmtree(next(p for p in b.iterdir() if p.is_dir() and not p.name.startswith("_")))
    assert main(["clean", str(a)]) == 0
    assert "removed 3 analysis results (stale)" in capsys.readouterr().out
    assert len(list(results.glob("*/*.json"))) == n - 3  # the distances and tables with its masks
    kept = sorted(results.glob("*/*.json"))
    # a recorded root that is gone: nothing removed, and the file to edit is named
    shutil.move(b, tmp_path / "moved")
    assert main(["clean", str(a)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"runs root {b}" in err and ROOTS_FILE in err
    assert sorted(results.glob("*/*.json")) == kept
    # the other root's entry edited to where it went, and the root's own entry follows the root
    shutil.move(a, tmp_path / "a2")
    moved = str((tmp_path / "moved").resolve())
    (tmp_path / "a2" / "_analysis" / ROOTS_FILE).write_text(json.dumps(["self", moved]))
    assert main(["clean", str(tmp_path / "a2")]) == 0
    assert "removed 0 analysis results (stale)" in capsys.readouterr().out


def test_clean_refuses_a_shared_folder_that_does_not_say_whose_results_it_holds(tiny_runs, tmp_path, capsys):
    from landscape.analysis.roots import ROOTS_FILE

    root, folder = tmp_path / "runs", tmp_path / "elsewhere"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis"))
    assert main(["analyze", str(root), "--out", str(folder), "--embed", "pca"]) == 0
    n = len(list((folder / "results").glob("*/*.json")))
    (folder / ROOTS_FILE).unlink()  # as written before folders recorded their roots
    capsys.readouterr()
    assert main(["clean", str(tmp_path / "empty_dir_that_is_not_there"), "--out", str(folder)]) == 2
    assert main(["clean", str(root), "--out", str(folder)]) == 2
    assert "does not record which runs roots" in capsys.readouterr().err
    assert len(list((folder / "results").glob("*/*.json"))) == n
    assert main(["analyze", str(root), "--out", str(folder), "--embed", "pca"]) == 0  # records it
    assert main(["clean", str(root), "--out", str(folder)]) == 0
    assert len(list((folder / "results").glob("*/*.json"))) == n


def test_clean_refuses_while_a_run_cannot_be_read_and_deletes_nothing(tiny_runs, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis"))
    assert main(["analyze", str(root), "--barriers", "1", "--points", "2", "--embed", "pca"]) == 0
    results = root / "_analysis" / "results"
    before = sorted(p.relative_to(results) for p in results.glob("*/*.json"))
    run = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))[0]
    # a run that has not stored a mask yet holds nothing a result could have used: no refusal
    fresh = root / "zz-fresh"
    fresh.mkdir()
    for name in ("config.json", "layout.json", "meta.json"):
        shutil.copy(run / name, fresh / name)
    meta = (run / "meta.json").read_bytes()
    (run / "meta.json").write_text('{"trunc')  # its masks are intact, but the run cannot be read
    capsys.readouterr()
    assert main(["clean", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"landscape clean: error: {root}: nothing removed")
    assert str(run) in err and "meta.json" in err and "--all" in err and str(fresh) not in err
    assert sorted(p.relative_to(results) for p in results.glob("*/*.json")) == before
    for name in ("manifest.json", "predictions.json"):  # nor when only its index is unreadable
        (run / "meta.json").write_bytes(meta)
        kept = (run / name).read_bytes()
        (run / name).write_text("{")
        assert main(["clean", str(root)]) == 2 and f"{run / name}" in capsys.readouterr().err
        (run / name).write_bytes(kept)
    assert sorted(p.relative_to(results) for p in results.glob("*/*.json")) == before
    assert main(["clean", str(root)]) == 0  # readable again: nothing of it was stale
    assert "removed 0 analysis results (stale)" in capsys.readouterr().out
    (run / "meta.json").write_text('{"trunc')
    assert main(["clean", str(root), "--all"]) == 0  # the explicit mode still removes everything
    assert not list(results.glob("*/*.json"))


def test_clean_removes_function_tables_whose_predictions_were_replaced(tiny_runs, tmp_path, capsys):
    from landscape.store.predictions import mask_key
    from landscape.store.run_store import RunStore

    root = tmp_path / "runs"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis"))
    assert main(["analyze", str(root), "--embed", "pca"]) == 0
    results = root / "_analysis" / "results"
    others = sorted(p.name for p in results.glob("*/*.json") if p.parent.name != "function_tables")
    assert list(results.glob("function_tables/*.json")) and others
    assert main(["clean", str(root)]) == 0 and "removed 0 analysis results (stale)" in capsys.readouterr().out
    # one mask's predictions replaced by others (as a re-evaluation on other data would)
    ms = read_runs(root)
    row = ms.obs.iloc[0]
    store = RunStore.open(ms.runs[str(row["run_id"])])
    w, s = int(row["weight_seed"]), int(row["search_seed"])
    stored = store.predictions_index()[mask_key(w, s)]["splits"]
    splits = {split: store.load_predictions(w, s, split) for split, n in stored.items() if n}
    for p in splits.values():
        p["pred"] = (p["pred"] + 1) % p["logprob"].shape[1]
    store.save_predictions(w, s, splits, source="re-evaluated")
    assert main(["clean", str(root)]) == 0
    assert "removed 1 analysis results (stale)" in capsys.readouterr().out
    assert not list(results.glob("function_tables/*.json"))  # computed from the old predictions
    assert sorted(p.name for p in results.glob("*/*.json")) == others  # the masks' own results stay
    assert main(["analyze", str(root), "--embed", "pca"]) == 0  # and they are computed again
    assert len(list(results.glob("function_tables/*.json"))) == 1


def test_analyze_labels_configurations_of_different_layouts_apart(tmp_path, capsys):
    # two widths: two layouts, analysed one at a time and then put in one table; each layout
    # alone has a single configuration, so only the whole analysis knows the width differs
    root = tmp_path / "runs"
    search_tiny(root, "edge_popup", range(3))
    search_tiny(root, "edge_popup", range(2), extra=["model.width_mult=0.5"])
    result = analyze(root, embed=(), progress=False)
    masks = result.tables["masks"]
    sizes = masks.groupby("group")["model.width_mult"].agg(["size", "nunique"])
    assert len(sizes) == 2 and (sizes["nunique"] == 1).all() and sorted(sizes["size"]) == [2, 3]
    assert masks["group"].str.contains("width").all()
    for name in ("diversity_summary", "baseline"):
        table = result.tables[name]
        assert table.groupby("group")["run_id"].nunique().max() == 1  # one configuration per label
    text = result.summary().splitlines()
    start = next(i for i, line in enumerate(text) if line.startswith("test accuracy"))
    rows = {line.split()[1]: line.split() for line in text[start + 2 : start + 4]}
    assert rows["1"][:4] == ["width", "1", "3", "1"] and rows["0.5"][:4] == ["width", "0.5", "2", "1"]
    assert "masks" in text[start + 1] and "every weight kept" in text[start + 1]


def test_pooling_everything_still_keeps_the_epochs_of_snapshots_apart():
    # Two masks of two runs, each stored at epochs 0 and 3: groupby=None pools the runs, never
    # a mask with its own snapshot (or any mask of another epoch).
    obs = pd.DataFrame(
        {"run_id": ["a", "a", "b", "b"], "method": ["x", "x", "y", "y"], "weight_seed": 0,
         "search_seed": [0, 0, 1, 1], "epoch": [0, 3, 0, 3]},
        index=["a/s0/e0", "a/s0/e3", "b/s1/e0", "b/s1/e3"],
    )  # fmt: skip
    groups = group_masks(obs, None)
    assert [g.positions.tolist() for g in groups] == [[0, 2], [1, 3]]
    assert [g.key for g in groups] == [{"epoch": 0}, {"epoch": 3}]
    assert [g.label for g in groups] == ["all masks · epoch 0", "all masks · epoch 3"]
    assert all(g.pooled_text() == "method x, y" for g in groups)  # what was pooled: the runs
    for g in groups:
        i, j = g.pairs()
        assert (obs["epoch"].to_numpy()[i] == obs["epoch"].to_numpy()[j]).all()
    expected = ["all masks · epoch 0", "all masks · epoch 3"] * 2
    assert pl_group_labels(obs, None).tolist() == expected  # the figures group as the tools do
    # without snapshots nothing changes: one group of every mask
    (only,) = group_masks(obs.drop(columns="epoch"), None)
    assert only.label == "all masks" and only.n_masks == 4 and only.key == {}
    assert (pl_group_labels(obs.drop(columns="epoch"), None) == "all masks").all()
    # a tool: one pair per epoch, each between the two runs
    ms = MaskSet.from_dense(np.random.default_rng(0).random((4, 64)) < 0.5, Layout([("w", (64,))]), obs)
    tl.distances(ms)
    div = tl.diversity(ms, groupby=None)
    whole = div[div["layer"] == "whole"] if "layer" in div else div
    assert whole["n_pairs"].tolist() == [1, 1] and whole["epoch"].tolist() == [0, 3]
    # epochs along an axis (accuracy against epoch): one curve over the epochs, per group
    assert (pl_group_labels(obs, None, vary=("epoch",)) == "all masks").all()
    assert pl_group_labels(obs, "config", vary=("epoch",)).tolist() == ["x", "x", "y", "y"]
    (curve,) = group_masks(obs, None, vary=("epoch",))
    assert curve.positions.tolist() == [0, 1, 2, 3]


def test_pooling_groupby_keeps_groups_of_different_layouts_apart(tmp_path):
    # pooling by method would put both widths under one label, but their masks differ in
    # shape: each width stays a group of its own, named by the width, with its own numbers
    root = tmp_path / "runs"
    search_tiny(root, "edge_popup", range(3))
    search_tiny(root, "edge_popup", range(3), extra=["model.width_mult=0.5"])
    result = analyze(root, groupby=("method",), embed=(), progress=False)
    masks = result.tables["masks"]
    assert masks.groupby("group")["model.width_mult"].unique().map(list).to_dict() == {
        "width 1": [1.0],
        "width 0.5": [0.5],
    }
    text = result.summary().splitlines()
    assert text[0].startswith("6 masks in 2 runs, 2 groups")

    def row(title: str, width: str) -> list[str]:  # the table's row of that width
        at = next(i for i, line in enumerate(text) if line.startswith(title)) + 2
        return next(r.split() for r in text[at : at + 2] if r.split()[:2] == ["width", width])

    for ms in result.masksets.values():  # each layout analysed alone is the truth
        width = format(float(ms.obs["model.width_mult"].iloc[0]), "g")
        assert row("test accuracy", width)[-1] == f"{ms.obs['all_ones_test_acc'].mean():.4f}"
        alone = ms.uns["diversity_jaccard"]["summary"]
        layers = alone[alone["layer"] != "whole"]
        excess = [
            token
            for v, lo, hi in zip(
                layers["excess_similarity"], layers["excess_ci_low"], layers["excess_ci_high"]
            )
            for token in (f"{v:+.4f}", f"±{(hi - lo) / 2:.4f}")
        ]
        assert row("Jaccard similarity", width)[-6:] == excess  # per-layer excess of this width only
        largest = ms.uns["ensemble"]["summary"].sort_values("k").iloc[-1]
        ensemble = [f"{largest['acc']:.4f}", f"({int(largest['k'])})", f"{largest['gain']:+.4f}"]
        assert row("test predictions", width)[-3:] == ensemble


def test_labels_across_layouts_name_what_tells_the_layouts_apart():
    import numpy as np

    from landscape.analysis.labels import analysis_labels
    from landscape.grouping import distinguishing_fields
    from landscape.maskset import MaskSet
    from landscape.store.layout import Layout

    def masks(width: int, hidden: list[int]) -> MaskSet:
        obs = pd.DataFrame({"run_id": f"run-{width}", "method": "edge_popup", "weight_seed": 0,
                            "search_seed": [0, 1], "model.name": "mlp", "model.hidden": [hidden] * 2})  # fmt: skip
        return MaskSet.from_dense(np.ones((2, width), bool), Layout([("fcs.0", (width,))]), obs)

    sets = {"mlp-a": masks(8, [48, 32]), "mlp-b": masks(4, [32, 32])}
    obs = pd.concat([ms.obs for ms in sets.values()], ignore_index=True)
    assert distinguishing_fields(obs, ["a", "a", "b", "b"]) == ["model.hidden"]  # model.name is shared
    # another dataset is named even when the model fields already tell the layouts apart
    other_data = obs.assign(**{"data.name": ["digits", "digits", "mnist1d", "mnist1d"]})
    assert distinguishing_fields(other_data, ["a", "a", "b", "b"]) == ["model.hidden", "data.name"]
    assert analysis_labels(sets, ("method",)) == {
        "mlp-a": {"edge_popup": "hidden 48-32"},
        "mlp-b": {"edge_popup": "hidden 32-32"},
    }
    assert analysis_labels(sets, None) == {"mlp-a": {"all masks": "hidden 48-32"},
                                            "mlp-b": {"all masks": "hidden 32-32"}}  # fmt: skip
    # default rule: every run is a group of one layout, its labels are not touched
    assert analysis_labels(sets, "config") == {"mlp-a": {"edge_popup": "hidden 48-32"},
                                                "mlp-b": {"edge_popup": "hidden 32-32"}}  # fmt: skip
    # nothing in the configurations tells the layouts apart: the label names the layout
    same = {"mlp-a": masks(8, [32, 32]), "mlp-b": masks(4, [32, 32])}
    labels = analysis_labels(same, ("method",))
    assert labels == {"mlp-a": {"edge_popup": "layout mlp-a"}, "mlp-b": {"edge_popup": "layout mlp-b"}}


def test_twin_pairs_count_pairs_of_two_configurations_from_one_seed():
    from landscape.grouping import twin_pairs

    obs = pd.DataFrame(
        {
            "run_id": ["a"] * 3 + ["b"] * 3,
            "search_seed": [0, 1, 2] * 2,
            "method.score_seed": [None] * 6,
            "train.data_seed": [None] * 6,
        }
    )
    everything = np.arange(6)
    assert twin_pairs(obs, everything) == 3  # seed s of run a with seed s of run b
    assert twin_pairs(obs, np.arange(3)) == 0  # inside one configuration: none
    held = obs.assign(**{"method.score_seed": [7] * 6})  # one score init for every mask
    assert twin_pairs(held, everything) == 9  # every pair across the two runs
    data_held = obs.assign(**{"train.data_seed": [7] * 3 + [None] * 3})
    # run a holds its data order; across the runs only the score seeds can match
    assert twin_pairs(data_held, everything) == 3
    imported = obs.assign(**{"origin.format": ["arrays"] * 6})  # file-order seeds say nothing
    assert twin_pairs(imported, everything) == 0


def test_a_pooled_group_says_how_many_of_its_pairs_are_twins(tmp_path):
    root = tmp_path / "runs"
    search_tiny(root, "edge_popup", range(3))
    search_tiny(root, "edge_popup", range(3), extra=["train.lr=0.05"])
    result = analyze(root, groupby=("method",), embed=(), progress=False)
    (summary,) = [ms.uns["diversity_jaccard"]["summary"] for ms in result.masksets.values()]
    whole = summary[summary["layer"] == "whole"].iloc[0]
    assert (whole["n_pairs"], whole["n_twin_pairs"]) == (15, 3)
    assert "3 of 15 pairs are twins" in result.summary()
    alone = analyze(root, embed=(), progress=False, out=tmp_path / "alone")  # one group per run
    assert "twins" not in alone.summary()
    tables = [ms.uns["diversity_jaccard"]["table"] for ms in alone.masksets.values()]
    assert all((t["n_twin_pairs"] == 0).all() for t in tables)


def test_searched_runs_beside_imported_ones_are_labelled_searched():
    from landscape.grouping import group_masks

    obs = pd.DataFrame({"run_id": ["a", "a", "b", "b"], "method": "edge_popup", "weight_seed": 0,
                        "search_seed": [0, 1, 0, 1],
                        "origin.format": ["", "", "hidden_networks", "hidden_networks"]})  # fmt: skip
    labels = sorted(g.label for g in group_masks(obs))
    assert labels == ["imported from hidden_networks", "searched"]


def test_labels_leave_out_the_fields_a_group_does_not_read():
    """Beside an IteRand run, Edge-Popup's label named IteRand's re-draw period ("rerand every
    300"), and a run without recycling its recycling rate: settings its search never used."""
    obs = pd.DataFrame({
        "run_id": ["ep", "iwr", "it"], "weight_seed": 0, "search_seed": 0,
        "method": ["edge_popup", "edge_popup+recycle", "iterand"],
        "method.name": ["edge_popup", "edge_popup", "iterand"],
        "method.recycle.every": [0, 5, 0], "method.recycle.rate": [0.2, 0.1, 0.2],
        "method.rerand.every": [300, 300, 100],
        "method.source.kind": "dense", "method.source.density": 1.0,
    })  # fmt: skip
    groups = {g.key["run_id"]: g for g in group_masks(obs)}
    assert {k: g.label for k, g in groups.items()} == {
        "ep": "edge_popup · recycle every 0",
        "iwr": "edge_popup+recycle · recycle every 5 · recycle rate 0.1",
        "it": "iterand · recycle every 0 · rerand every 100",
    }
    assert "method.rerand.every" not in groups["ep"].columns  # nor in its table row
    assert groups["it"].columns["method.rerand.every"] == 100
    # a pooled group reads what any of its masks reads, whichever mask comes first
    for order in (["ep", "it"], ["it", "ep"]):
        two = obs.set_index("run_id").loc[order].reset_index().assign(**{"method.rerand.every": 300})
        (pooled,) = group_masks(two, groupby="method.rerand.every")
        assert pooled.label == "rerand every 300"
    # the random null model trains nothing: no epochs, learning rate or score init in its label
    beside = pd.DataFrame({
        "run_id": ["ep", "rnd"], "weight_seed": 0, "search_seed": 0, "method": ["edge_popup", "random"],
        "method.name": ["edge_popup", "random"], "method.score_init": "kaiming_uniform",
        "train.epochs": [30, 20], "train.lr": [0.1, 0.2], "train.batch_size": [128, 64],
    })  # fmt: skip
    assert [g.label for g in group_masks(beside)] == [
        "edge_popup · epochs 30 · lr 0.1 · batch size 128",
        "random · batch size 64",  # the batches of its BatchNorm estimate
    ]
    # two random runs told apart by epochs alone keep them; the other groups' labels stay short
    iterand = beside.iloc[[0]].assign(run_id="it", method="iterand", **{"method.name": "iterand"})
    third = pd.concat([beside, beside.iloc[[1]].assign(run_id="rnd2", **{"train.epochs": 10}), iterand])
    third["method.rerand.every"] = [300, 300, 300, 100]
    assert [g.label for g in group_masks(third)] == [
        "edge_popup · epochs 30 · lr 0.1 · batch size 128",
        "random · epochs 20 · lr 0.2 · batch size 64 · rerand every 300",
        "random · epochs 10 · lr 0.2 · batch size 64 · rerand every 300",
        "iterand · epochs 30 · lr 0.1 · batch size 128 · rerand every 100",
    ]


def test_ls_says_what_tells_runs_of_one_summary_apart(variant_runs, capsys):
    """``ls`` showed four runs as ``edge_popup mlp digits d=0.5``: which is which was in the
    run ids only. Runs of one summary line now carry the fields that tell them apart."""
    assert main(["ls", str(variant_runs)]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    described = sorted(row.split("  ")[-1].split(" (", 1)[1] for row in rows)
    assert described == [
        "init kaiming_normal · epochs 3 · lr 0.1)",
        "init signed_constant · epochs 1 · lr 0.1)",
        "init signed_constant · epochs 3 · lr 0.05)",
        "init signed_constant · epochs 3 · lr 0.1)",
    ]
    assert len({row.split()[0] for row in rows}) == 4  # one row per run


def test_a_pooled_blank_value_is_named_not_left_empty():
    from landscape.grouping import Group

    group = Group("x", {}, np.arange(2), {}, {"origin.format": ["", "arrays"]})
    assert group.pooled_text() == "imported from none, arrays"  # searched here, and imported
