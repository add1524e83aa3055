"""Selection frequency per input unit of a layer against the binomial null, and its plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from landscape import pl, tl  # noqa: E402
from landscape.errors import AnalysisError  # noqa: E402
from landscape.maskset import MaskSet  # noqa: E402
from landscape.pl.input_frequency import _prepare_input_frequency  # noqa: E402
from landscape.store.layout import Layout  # noqa: E402
from landscape.tl.input_frequency import binomial_band, kept_per_input  # noqa: E402

LAYOUT = Layout([("fcs.0", (32, 40)), ("fcs.1", (10, 32))])


def _masks(planted: bool, n: int = 12, seed: int = 0) -> np.ndarray:
    """Independent random masks at density 0.5; ``planted`` keeps input positions 0-3 in
    every row and drops positions 36-39 (the rest of the layer keeps density near 0.5)."""
    rng = np.random.default_rng(seed)
    first = rng.random((n, 32, 40)) < 0.5
    if planted:
        first[:, :, :4] = True
        first[:, :, 36:] = False
    second = rng.random((n, 10 * 32)) < 0.5
    return np.concatenate([first.reshape(n, -1), second], axis=1)


def _maskset(dense: np.ndarray, methods: list[str]) -> MaskSet:
    obs = pd.DataFrame({"method": methods, "density": 0.5, "search_seed": range(len(methods))})
    obs.index = [f"r/w0/s{i}" for i in range(len(methods))]
    return MaskSet.from_dense(dense, LAYOUT, obs)


def test_counts_and_band_by_hand():
    dense = _masks(planted=True)
    ms = _maskset(dense, ["edge_popup"] * 12)
    table = tl.input_frequency(ms, groupby="method")
    first = dense[:, : 32 * 40].reshape(12, 32, 40)
    assert table["kept"].tolist() == first.sum(axis=(0, 1)).tolist()
    assert (table["trials"] == 12 * 32).all() and table["layer"].eq("fcs.0").all()
    p = first.mean()
    assert table["null"].iloc[0] == pytest.approx(p)
    assert table["fraction"].tolist() == pytest.approx((first.sum(axis=(0, 1)) / 384).tolist())
    # the planted positions are far outside the band, and flagged with tiny p-values
    assert (table.loc[:3, "fraction"] == 1.0).all() and (table.loc[36:, "fraction"] == 0.0).all()
    assert (table.loc[:3, "pvalue"] < 1e-20).all() and (table.loc[:3, "z"] > 10).all()
    summary = ms.uns["input_frequency"]["summary"]
    assert summary["outside"].iloc[0] >= 8 and summary["chi2_pvalue"].iloc[0] < 1e-20
    trials, null = 12 * 32, table["null"].iloc[0]
    low, high = table["low"].iloc[0] * trials, table["high"].iloc[0] * trials
    rate = stats.binom.cdf(low - 1, trials, null) + stats.binom.sf(high, trials, null)
    assert summary["outside_expected"].iloc[0] == pytest.approx(rate * 40)


def test_expected_units_outside_the_band_is_what_independent_masks_give():
    # the discrete band holds more than 95%: with 20 trials at p = 0.1 a unit falls outside it
    # 1.1% of the time, not 5%, so "(1 - level) x units" would read a real excess as chance
    from landscape.tl.input_frequency import outside_rate

    rng = np.random.default_rng(3)
    kept = rng.binomial(20, 0.1, size=200_000)
    band = binomial_band(kept, trials=20)
    simulated = float(((band["fraction"] < band["low"]) | (band["fraction"] > band["high"])).mean())
    assert outside_rate(20, band["null"].iloc[0]) == pytest.approx(simulated, abs=0.002)
    assert outside_rate(20, 0.1) == pytest.approx(0.0113, abs=0.001)


def test_no_structure_under_the_null():
    ms = _maskset(_masks(planted=False, seed=4), ["edge_popup"] * 12)
    tl.input_frequency(ms, groupby="method")
    summary = ms.uns["input_frequency"]["summary"].iloc[0]
    assert summary["outside"] <= 6  # about 2 expected of 40
    assert summary["chi2_pvalue"] > 0.001


def test_binomial_band_interval_and_pvalue():
    band = binomial_band(np.array([50, 60, 80]), trials=100)
    p = 190 / 300
    from scipy import stats

    assert band["null"].iloc[0] == pytest.approx(p)
    assert band["low"].iloc[0] == stats.binom.ppf(0.025, 100, p) / 100
    assert band["high"].iloc[0] == stats.binom.ppf(0.975, 100, p) / 100
    expected = min(1.0, 2 * min(stats.binom.cdf(50, 100, p), stats.binom.sf(49, 100, p)))
    assert band["pvalue"].iloc[0] == pytest.approx(expected)
    assert kept_per_input(np.ones((3, 2, 5), dtype=np.uint16)).tolist() == [3] * 10


def test_groups_layer_choice_and_errors():
    dense = np.concatenate([_masks(True, n=4), _masks(False, n=4, seed=1)])
    ms = _maskset(dense, ["edge_popup"] * 4 + ["biprop"] * 4)
    table = tl.input_frequency(ms, groupby="method", layer="fcs.1")
    assert set(table["method"]) == {"edge_popup", "biprop"} and (table["position"].max() == 31)
    with pytest.raises(AnalysisError, match="layer"):
        tl.input_frequency(ms, layer="nope")
    with pytest.raises(AnalysisError, match="level"):
        tl.input_frequency(ms, level=1.5)


def test_prepare_reads_the_slot_by_group():
    dense = np.concatenate([_masks(True, n=4), _masks(False, n=4, seed=1)])
    ms = _maskset(dense, ["edge_popup"] * 4 + ["biprop"] * 4)
    with pytest.raises(AnalysisError, match="tl.input_frequency"):
        _prepare_input_frequency(ms)
    tl.input_frequency(ms, groupby="method")
    ep = _prepare_input_frequency(ms, group="edge_popup")
    assert ep["position"].tolist() == list(range(40))
    first = dense[:4, : 32 * 40].reshape(4, 32, 40)
    assert ep["fraction"].tolist() == pytest.approx((first.sum(axis=(0, 1)) / 128).tolist())
    assert ep.loc[:3, "outside"].all() and ep.loc[36:, "outside"].all()
    assert ep.attrs["group"] == "edge_popup" and ep.attrs["method"] == "edge_popup"
    bp = _prepare_input_frequency(ms, group="biprop")
    assert not bp["fraction"].equals(ep["fraction"])
    with pytest.raises(AnalysisError, match="group"):
        _prepare_input_frequency(ms, group="iterand")


def test_draws_with_agg():
    ms = _maskset(_masks(True), ["edge_popup"] * 12)
    tl.input_frequency(ms, groupby="method")
    ax = pl.input_frequency(ms)
    ax.figure.canvas.draw()
    line = [ln for ln in ax.get_lines() if ln.get_label() == "edge_popup masks"][0]
    assert line.get_ydata()[:4].tolist() == [1.0] * 4
    assert "fcs.0" in ax.get_xlabel()
    plt.close("all")
