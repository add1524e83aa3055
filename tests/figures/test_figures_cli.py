"""``landscape figures`` over a runs root on disk."""

from __future__ import annotations

import json

import numpy as np
import pytest

from landscape.cli import main
from landscape.config import SearchConfig
from landscape.store.layout import Layout
from landscape.store.packing import pack_flat
from landscape.store.run_store import RunStore
from tests.figures.conftest import LAYOUT, fixed_k

BASE = SearchConfig().replace(**{"model.hidden": [12, 6], "train.epochs": 2})
WIDE = Layout([("fcs.0", (24, 16)), ("fcs.1", (6, 24)), ("fcs.2", (3, 6))])


def make_run(root, overrides: dict, n: int, layout: Layout = LAYOUT, seed: int = 0) -> None:
    cfg = BASE.replace(**overrides)
    store = RunStore.create(root, cfg, layout)
    pairs = [(0, s) for s in range(n)]
    store.add_plan(pairs)
    masks = fixed_k(np.random.default_rng(seed), n, layout, cfg.method.density)
    records = [
        {"weight_seed": w, "search_seed": s, "test_acc": 0.6 + 0.3 * cfg.method.density + 0.01 * s}
        for w, s in pairs
    ]
    store.write_masks(pack_flat(masks, layout), records)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    make_run(root, {"method.name": "edge_popup", "method.density": 0.5}, 4, seed=1)
    make_run(
        root,
        {"method.name": "biprop", "model.weight_init": "kaiming_normal", "method.density": 0.5},
        3,
        seed=2,
    )
    make_run(root, {"method.name": "edge_popup", "method.density": 0.2}, 3, seed=3)
    make_run(
        root, {"method.name": "edge_popup", "method.density": 0.5, "model.width_mult": 2.0}, 2, WIDE, seed=4
    )
    return root


def test_cli_writes_figures_and_reports_skips(runs, tmp_path, capsys):
    out = tmp_path / "figs"
    code = main(
        [
            "figures",
            "accuracy_vs_density",
            "accuracy_vs_width",
            "interpolation",
            "--runs",
            str(runs),
            "--out",
            str(out),
            "--format",
            "png",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert f"accuracy_vs_density: {out / 'accuracy_vs_density.png'}" in text
    # runs of two layouts share an accuracy figure; mask figures use the larger layout group
    assert (out / "accuracy_vs_width.png").stat().st_size > 0
    record = json.loads((out / "accuracy_vs_width.json").read_text())
    assert record["n_masks"] == 9 and len(record["run_ids"]) == 3  # held at density 0.5
    assert "interpolation: skipped (no loss barriers computed" in text


def test_cli_where_and_errors(runs, tmp_path, capsys):
    out = tmp_path / "figs"
    where = "`model.width_mult` == 1.0"
    names = ["interpolation", "layer_overlap", "similarity_heatmap", "embedding"]
    code = main(["figures", *names, "--runs", str(runs), "--out", str(out), "--where", where])
    text = capsys.readouterr().out
    assert code == 0 and "interpolation: skipped (no loss barriers computed" in text
    record = json.loads((out / "layer_overlap.json").read_text())
    # density 0.5 has the most masks (4 edge_popup + 3 biprop); distances computed on the way
    assert record["density"] == 0.5 and record["n_masks"] == 7 and "distances" in record["analysis"]
    assert record["where"] == where and len(record["run_ids"]) == 2
    for name in names[1:]:
        assert (out / f"{name}.pdf").stat().st_size > 0 and f"{name}: {out / name}.pdf" in text
    assert main(["figures", "heatmap_similarity", "--runs", str(runs)]) == 2
    assert "did you mean 'similarity_heatmap'" in capsys.readouterr().err
    assert main(["figures", "--runs", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["figures", "--list"]) == 0
    assert "selection_frequency" in capsys.readouterr().out


def test_distances_too_large_for_the_ram_skip_their_figures_with_the_way_out(
    runs, tmp_path, capsys, monkeypatch
):
    """Stored by `landscape analyze` or not, matrices that would not fit are neither read whole
    nor computed: the figures needing them are skipped with the way out; the others are drawn."""
    import shutil

    shutil.copytree(runs, tmp_path / "runs")
    assert main(["analyze", str(tmp_path / "runs")]) == 0  # stores the distances
    monkeypatch.setattr("landscape.ram.available_ram", lambda: 1000)
    capsys.readouterr()
    out = tmp_path / "figs"
    code = main(
        [
            "figures",
            "similarity_heatmap",
            "accuracy_vs_density",
            "--runs",
            str(tmp_path / "runs"),
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0 and (out / "accuracy_vs_density.pdf").stat().st_size > 0
    assert (
        "similarity_heatmap: skipped (the jaccard distances of " in text
        and "draw fewer masks (--where)" in text
    )
    monkeypatch.setattr("landscape.ram.available_ram", lambda: None)
    assert main(["figures", "similarity_heatmap", "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    assert (out / "similarity_heatmap.pdf").stat().st_size > 0
