"""The function-space figures from a runs root with stored predictions, and without them."""

from __future__ import annotations

import json
import shutil

import matplotlib

matplotlib.use("Agg")

from landscape.figures import build_figures, figure_names  # noqa: E402

FUNCTION_FIGURES = ["disagreement_vs_distance", "diversity_accuracy", "ensemble_accuracy", "cka_by_layer"]


def test_function_figures_are_built_from_stored_predictions(tiny_runs, tmp_path):
    assert set(FUNCTION_FIGURES) <= set(figure_names())
    built = build_figures(tiny_runs, FUNCTION_FIGURES, out=tmp_path, formats=("png",))
    assert not built.skipped and set(built.files) == set(FUNCTION_FIGURES)
    record = json.loads((tmp_path / "disagreement_vs_distance.json").read_text())
    # searched masks only: the random null is left out of the structure-function figures
    assert record["n_masks"] == 8 and record["analysis"]["agreement"]["split"] == "test"
    assert record["description"].startswith("Test-set prediction disagreement")
    cka = json.loads((tmp_path / "cka_by_layer.json").read_text())
    assert cka["analysis"]["representation_similarity"]["similarity"].startswith("linear CKA")


def test_without_predictions_the_figures_say_how_to_get_them(tiny_runs, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis", "predictions*"))
    built = build_figures(root, FUNCTION_FIGURES, out=tmp_path / "figs", formats=("png",))
    reasons = dict(built.skipped)
    for name in ("disagreement_vs_distance", "diversity_accuracy", "ensemble_accuracy"):
        assert "landscape predict" in reasons[name]
    assert "cka_by_layer" in built.files  # representations need the networks, not predictions
