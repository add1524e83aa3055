"""Every named figure on a runs root shaped like a paper's (two methods, three densities, two
widths, two networks): drawn, captioned with its selection, its numbers and provenance beside
it, all on one index.html; and configurations are never pooled."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from landscape.cli import main
from landscape.figures import FIGURES, build_figures, figure_names
from tests.figures.conftest import DYNAMICS, make_paper_runs

NEW = {
    "diversity_vs_density",
    "diversity_vs_density_layers",
    "diversity_vs_width",
    "cross_method",
    "barrier_vs_distance",
    "accuracy_vs_typicality",
}


def drawn() -> list[str]:
    return [name for name in figure_names() if name not in DYNAMICS]


@pytest.fixture(scope="module")
def paper_figures(paper_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    return build_figures(paper_runs, out=out, formats=("png",)), out


def test_every_figure_is_drawn_with_caption_numbers_and_provenance(paper_figures):
    built, out = paper_figures
    # the paper-shaped root keeps no snapshots and holds no seed: those figures are skipped
    assert {name for name, _ in built.skipped} == DYNAMICS
    assert set(built.files) == set(figure_names()) - DYNAMICS >= NEW
    for name in drawn():
        for ext in ("png", "txt", "csv", "json"):
            assert (out / f"{name}.{ext}").stat().st_size > 0, (name, ext)
        record = json.loads((out / f"{name}.json").read_text())
        caption = (out / f"{name}.txt").read_text().strip()
        assert record["caption"] == caption == built.captions[name]
        sel = record["selection"]
        assert sel["dataset"] == ["digits"] and sel["model"] == ["mlp"] and sel["epochs"] == [2]
        # two weight seeds; Edge-Popup's signed constants and Biprop's Kaiming normal weights
        # of one seed are two networks, and so are one seed's weights at two widths
        inits = sel.get("weight_inits", ["one rule"])
        layouts = sel.get("n_layouts", 1)
        assert layouts == len(sel["width"]), name
        assert sel["weight_seeds"] == [0, 1] and sel["n_masks"] == record["n_masks"]
        assert sel["n_networks"] == 2 * len(inits) * layouts and set(inits) <= {
            "one rule",
            "kaiming_normal",
            "signed_constant",
        }
        for word in ("digits", "mlp", "epochs", f"{sel['n_masks']} masks", f"{sel['n_networks']} networks"):
            assert word in caption, (name, word)
        # never a silently chosen density or width: one value shown of several is named
        for field, present in (("density", [0.1, 0.3, 0.5]), ("width", [0.5, 1.0])):
            if len(sel[field]) == 1:
                chosen = sel["chosen"][field]
                assert chosen["value"] == sel[field][0] and set(chosen["also_present"]) | {
                    chosen["value"]
                } == set(present)
                assert f"{field.capitalize()} {chosen['value']:g} shown" in caption
    record = json.loads((out / "layer_overlap.json").read_text())
    assert "the density with the most masks" in record["caption"] and record["density"] == 0.5
    # what `landscape analyze` stored is used, not recomputed: distances of every layout
    for name in ("layer_overlap", "diversity_vs_width", "cross_method"):
        record = json.loads((out / f"{name}.json").read_text())
        assert "distances" not in record["computed_for_figure"], name
        assert record["analysis"]["distances"]["origin"] == "analysis result store", name


def test_index_references_every_png_with_its_caption_and_numbers(paper_figures):
    built, out = paper_figures
    page = (out / "index.html").read_text()
    images = set(re.findall(r'<img src="([^"]+)"', page))
    assert images == {p.name for p in out.glob("*.png")}  # every PNG there, nothing missing
    for name in drawn():
        section = page[page.index(f'<section id="{name}">') :].split("</section>")[0]
        assert "Selection:" in section and "provenance" in section and f'href="{name}.csv"' in section
        assert "<table" in section  # the numbers behind it
    assert "://" not in page and "<script" not in page  # opens from disk, nothing fetched


def test_the_headline_figures_show_lines_over_networks(paper_figures):
    _, out = paper_figures
    density = pd.read_csv(out / "diversity_vs_density.csv")
    sim = density[density["value"] == "similarity"]
    assert sim["line"].nunique() == 2 and sorted(sim["x"].unique()) == [0.1, 0.3, 0.5]
    assert (sim["interval"] == "networks").all() and (sim["n_networks"] == 2).all()
    assert (sim["y"] > sim["chance"]).all()  # the planted network-level preference
    width = pd.read_csv(out / "diversity_vs_width.csv")
    assert width["line"].nunique() == 2 and sorted(width["x"].unique()) == [0.5, 1.0]
    layers = pd.read_csv(out / "diversity_vs_density_layers.csv")
    assert set(layers["layer"]) == {"whole", "fcs.0", "fcs.1", "fcs.2"}
    twins = pd.read_csv(out / "cross_method.csv").set_index("comparison")["similarity"]
    assert twins["across, same seed"] > twins["across, other seeds"]  # planted twins
    barriers = pd.read_csv(out / "barrier_vs_distance.csv")
    assert barriers["group"].nunique() == 2 and set(barriers["path"]) == {"linear", "swap"}
    accuracy = pd.read_csv(out / "accuracy_vs_density.csv")
    assert (accuracy["spread"] == "networks").all()


def test_figures_list_shows_the_new_names(capsys):
    assert main(["figures", "--list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert listed >= NEW


def test_two_runs_differing_only_in_epochs_draw_two_groups(tmp_path):
    root = tmp_path / "runs"
    one = {"edge_popup": []}
    make_paper_runs(root, methods=one, densities=(0.3, 0.5), widths=(1.0,))
    make_paper_runs(root, methods=one, densities=(0.3, 0.5), widths=(1.0,), extra=("train.epochs=3",))
    names = ["layer_overlap", "diversity_vs_density", "accuracy_vs_density", "embedding"]
    built = build_figures(root, names, out=tmp_path / "figs", formats=("png",))
    assert built.skipped == []
    overlap = pd.read_csv(tmp_path / "figs" / "layer_overlap.csv")
    assert set(overlap["group"]) == {"epochs 2", "epochs 3"}
    lines = pd.read_csv(tmp_path / "figs" / "diversity_vs_density.csv")
    assert set(lines["line"]) == {"epochs 2", "epochs 3"}
    accuracy = pd.read_csv(tmp_path / "figs" / "accuracy_vs_density.csv")
    assert set(accuracy["group"]) == {"epochs 2", "epochs 3"}
    embedding = pd.read_csv(tmp_path / "figs" / "embedding.csv")
    assert set(embedding["group"]) == {"epochs 2", "epochs 3"}


def test_function_tables_of_analyze_keep_configurations_and_networks_apart(paper_runs):
    import landscape as ls
    from landscape.reading import read_layout_groups

    agree = pd.read_csv(paper_runs / "_analysis" / "agreement.csv")
    # 12 configurations x 2 networks, 3 masks each: every row one network of one configuration
    assert len(agree) == 24 and (agree["n_masks"] == 3).all() and (agree["n_pairs"] == 3).all()
    assert agree.groupby("group")["weight_seed"].nunique().eq(2).all()
    assert agree["pooled"].isna().all()
    ens = pd.read_csv(paper_runs / "_analysis" / "ensemble.csv")
    assert set(ens["group"]) == set(agree["group"]) and ens["k"].max() == 3
    # the groups are the configurations of the structural tables, never pooled
    diversity = pd.read_csv(paper_runs / "_analysis" / "diversity.csv")
    assert set(agree["group"]) == set(diversity["group"])
    n_pairs = 0
    for ms in read_layout_groups(paper_runs):  # one MaskSet per width
        run_of = dict(zip(ms.obs.index.astype(str), ms.obs["run_id"].astype(str)))
        seed_of = dict(zip(ms.obs.index.astype(str), ms.obs["weight_seed"]))
        ls.tl.agreement(ms)
        pairs = ms.uns["agreement"]["pairs"]
        n_pairs += len(pairs)
        assert all(
            run_of[a] == run_of[b] and seed_of[a] == seed_of[b]
            for a, b in zip(pairs["obs_i"], pairs["obs_j"])
        )
    assert n_pairs == 72


def test_similarity_heatmap_pairs_masks_of_one_network_only(paper_figures):
    built, out = paper_figures
    cells = pd.read_csv(out / "similarity_heatmap.csv")
    net = lambda names: names.str.extract(r"/w(\d+)/")[0].astype(int)  # noqa: E731
    assert (net(cells["mask_row"]) == net(cells["mask_column"])).all()
    assert (net(cells["mask_row"]) == cells["weight_seed"]).all() and set(cells["weight_seed"]) == {0, 1}
    # 2 networks x 3 masks: 3 pairs per network and triangle
    assert len(cells) == 2 * 2 * 3 and cells["row"].str.match(r"w\d/s\d").all()
    text = built.captions["similarity_heatmap"]
    assert "masks of different networks are not compared" in text
    lower = cells.loc[cells["triangle"] == "lower", "group"].iloc[0]
    assert lower.startswith("edge_popup") and "Lower triangle: Edge-Popup; upper triangle: Biprop." in text


def test_embedding_is_made_within_each_network(paper_figures, paper_runs):
    import numpy as np

    from landscape import tl
    from landscape.figures.source import Source

    built, out = paper_figures
    points = pd.read_csv(out / "embedding.csv")
    # a network is a weight seed and what it draws: Edge-Popup's signed constants and Biprop's
    # Kaiming normal weights of one seed are two networks, each embedded on its own
    networks = {
        f"weight seed {w} · init {init}" for w in (0, 1) for init in ("signed_constant", "kaiming_normal")
    }
    assert set(points["network"]) == networks and points[["mds_1", "mds_2"]].notna().all().all()
    # each network's masks embedded on their own (classical MDS centres each embedding); one
    # embedding of both networks puts them on either side of MDS 1
    for _, part in points.groupby("network"):
        assert len(part) == 3 and abs(part["mds_1"].mean()) < 1e-9 and abs(part["mds_2"].mean()) < 1e-9
    ms, _ = Source(paper_runs, None).select(FIGURES.get("embedding"))
    obs = ms.obs
    net0 = ms[
        np.flatnonzero(
            ((obs["weight_seed"] == 0) & (obs["model.weight_init"] == "signed_constant")).to_numpy()
        )
    ]
    tl.mds(net0)
    mine = points[points["network"] == "weight seed 0 · init signed_constant"].set_index("mask")
    mine = mine.loc[net0.obs.index.astype(str)]
    assert np.allclose(np.abs(mine["mds_1"]), np.abs(net0.obsm["X_mds"][:, 0]))
    assert "One embedding per network (weight seed and initialiser)" in built.captions["embedding"]


def test_a_layout_left_out_is_named_by_the_fields_that_set_it_apart(tmp_path):
    root = tmp_path / "runs"
    one = {"edge_popup": []}
    make_paper_runs(root, methods=one, densities=(0.5,), widths=(1.0,))
    make_paper_runs(
        root, methods=one, densities=(0.5,), widths=(1.0,), extra=("model.hidden=[24, 24]", "train.epochs=3")
    )
    make_paper_runs(root, methods=one, densities=(0.5,), widths=(1.0,), extra=("train.epochs=3",))
    built = build_figures(root, ["layer_overlap"], out=tmp_path / "figs", formats=("png",))
    text = built.captions["layer_overlap"]
    assert "Layout hidden 16-16 shown (the network layout with the most masks)" in text
    assert "also present: hidden 24-24 (choose with --where)" in text and "Width 1 shown" not in text
    record = json.loads((tmp_path / "figs" / "layer_overlap.json").read_text())
    assert record["layout"]["fields"] == ["model.hidden"] and "width" not in record["reasons"]
