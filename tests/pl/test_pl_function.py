"""Function-space plots: the numbers their _prepare functions return, and drawing with Agg."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from landscape import pl, tl  # noqa: E402
from landscape.errors import AnalysisError  # noqa: E402
from landscape.pl.function import (  # noqa: E402
    _prepare_cka_by_layer,
    _prepare_disagreement_vs_distance,
    _prepare_diversity_accuracy,
    _prepare_ensemble_accuracy,
)
from tests.pl.test_pl_draw import drawn  # noqa: E402
from tests.predicted import with_predictions  # noqa: E402


@pytest.fixture
def predicted():
    """4 edge_popup, 3 biprop and 3 dense members with predictions of 30 examples."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 30)
    skill = np.r_[[0.9] * 4, [0.7] * 3, [0.95] * 3]
    preds = np.where(rng.random((10, 30)) < skill[:, None], labels, rng.integers(0, 3, (10, 30)))
    methods = ["edge_popup"] * 4 + ["biprop"] * 3 + ["dense"] * 3
    val = (preds[:, :6], labels[:6])
    ms = with_predictions(preds, labels, method=methods, networks=[0] * 7 + [0, 1, 2], val=val)
    tl.agreement(ms)
    tl.ensemble(ms)
    return ms, preds, labels


def test_disagreement_and_plane_prepare_one_row_per_pair(predicted):
    ms, preds, labels = predicted
    pairs = ms.uns["agreement"]["pairs"]
    data = _prepare_disagreement_vs_distance(pairs)
    assert len(data) == 6 + 3 + 3  # pairs within each group (dense: across its networks)
    first = data.iloc[0]  # edge_popup masks 0 and 1
    assert first["value"] == pytest.approx(np.mean(preds[0] != preds[1]))
    assert first["distance"] == pytest.approx(ms.obsp["dist_jaccard"][0, 1])
    plane = _prepare_diversity_accuracy(pairs)
    acc = (preds == labels).mean(1)
    assert plane["accuracy"].iloc[0] == pytest.approx((acc[0] + acc[1]) / 2)
    assert plane["diversity"].iloc[0] == pytest.approx(pairs["normalised_disagreement"].iloc[0])


def test_ensemble_prepare_has_a_curve_per_group_and_the_best_mask(predicted):
    ms, preds, labels = predicted
    curves, best = _prepare_ensemble_accuracy(ms.uns["ensemble"]["summary"])
    assert curves.groupby("group").size().to_dict() == {"edge_popup": 4, "biprop": 3, "dense": 3}
    ep = curves[curves["group"] == "edge_popup"]
    assert ep["mean"].iloc[0] == pytest.approx((preds[:4] == labels).mean())
    chosen = int(np.argmax((preds[:4, :6] == labels[:6]).mean(1)))
    assert best.set_index("group").loc["edge_popup", "best"] == pytest.approx(
        (preds[chosen] == labels).mean()
    )
    with pytest.raises(AnalysisError, match="metric"):
        _prepare_ensemble_accuracy(ms.uns["ensemble"]["summary"], metric="f1")


def _cka_summary() -> pd.DataFrame:
    rows = []
    for group, level in (("edge_popup", 0.8), ("biprop", 0.7)):
        for pos, name in enumerate(("fcs.1", "fcs.2", "logits")):
            value = level - 0.1 * pos
            rows.append(
                {
                    "group": group,
                    "representation": name,
                    "position": pos,
                    "cka": value,
                    "cka_ci_low": value - 0.05,
                    "cka_ci_high": value + 0.05,
                    "random_cka": 0.5 - 0.1 * pos,
                    "random_cka_ci_low": 0.45 - 0.1 * pos,
                    "random_cka_ci_high": 0.55 - 0.1 * pos,
                }
            )
    return pd.DataFrame(rows)


def test_cka_prepare_keeps_layers_in_forward_order():
    data = _prepare_cka_by_layer(_cka_summary())
    part = data[data["group"] == "biprop"]
    assert part["representation"].tolist() == ["fcs.1", "fcs.2", "logits"]
    assert part["cka"].tolist() == pytest.approx([0.7, 0.6, 0.5]) and part["random_lo"].iloc[
        2
    ] == pytest.approx(0.25)


def test_function_plots_draw(predicted):
    ms, _, _ = predicted
    ax = drawn(pl.disagreement_vs_distance(ms))
    assert len(ax.collections) == 3 and ax.get_xlabel().startswith("Jaccard")
    assert len(drawn(pl.disagreement_vs_distance(ms, y="normalised_disagreement")).collections) == 3
    assert len(drawn(pl.diversity_accuracy(ms, groups=["biprop"])).collections) == 1
    ax = drawn(pl.ensemble_accuracy(ms))
    labels = [line.get_label() for line in ax.get_lines()]
    assert (
        "dense (weights trained), independently trained networks" in labels
        and "best single mask (by validation)" in labels
    )
    # the dotted levels are in the numbers kept with the plot, at the values drawn
    data = pl.data_of(ax)
    levels = data[data["members"] == "best single mask"].set_index("group")["mean"]
    dotted = [
        line.get_ydata()[0]
        for line in ax.get_lines()
        if line.get_linestyle() == ":" and len(line.get_ydata())
    ]
    assert len(levels) and sorted(levels) == pytest.approx(sorted(dotted))
    drawn(pl.ensemble_accuracy(ms, metric="nll"))
    ms.uns["representation_similarity"] = {"params": {"at": "input"}, "summary": _cka_summary()}
    ax = drawn(pl.cka_by_layer(ms))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fcs.1", "fcs.2", "logits"]


def test_function_plots_name_the_tool_they_need(predicted):
    ms, _, _ = predicted
    ms.uns.clear()
    for plot, tool in (
        (pl.disagreement_vs_distance, "tl.agreement"),
        (pl.ensemble_accuracy, "tl.ensemble"),
        (pl.cka_by_layer, "tl.representation_similarity"),
    ):
        with pytest.raises(AnalysisError, match=tool):
            plot(ms)
