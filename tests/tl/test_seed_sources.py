"""tl.seed_sources on masks whose bits are planted from their score and data seeds: pair
classes, means against a brute-force computation, the intervals of tl.diversity where all
pairs share one class, the fractions explained, and pairs across two selections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import landscape as ls
from landscape.errors import AnalysisError
from landscape.maskset import MaskSet
from landscape.store.layout import Layout
from landscape.tl import _stats

LAYOUT = Layout([("scored", (120,)), ("ordered", (80,))])
DESIGNS = {  # run id -> (held config fields, (score seed, data seed) of search seeds 0-3)
    "free": ({}, [(s, s) for s in range(4)]),
    "data_held": ({"train.data_seed": 0}, [(s, 0) for s in range(4)]),
    "score_held": ({"method.score_seed": 0}, [(0, s) for s in range(4)]),
}


def planted(score: int, data: int, method: str = "edge_popup") -> np.ndarray:
    """Mostly a function of the score seed in the first layer and of the data seed in the
    second, with a little noise of both (so no two different seed pairs give equal masks)."""
    r_s = np.random.default_rng([score, 1 if method == "edge_popup" else 2])
    r_d = np.random.default_rng([1000 + data])
    r_n = np.random.default_rng([score, data, 7])
    first = r_s.random(120) + 0.3 * r_n.random(120)
    second = r_d.random(80) + 0.3 * r_n.random(80)
    return np.concatenate([first >= np.sort(first)[-60], second >= np.sort(second)[-40]])


def family(method: str = "edge_popup", density: float = 0.5, networks=(0,)) -> MaskSet:
    dense, rows = [], []
    for run, (held, seeds) in DESIGNS.items():
        for w in networks:
            for search, (score, data) in enumerate(seeds):
                dense.append(planted(score + 10 * w, data + 10 * w, method))
                rows.append(
                    {"run_id": f"{method}-{density}-{run}", "method": method, "density": density,
                     "weight_seed": w, "search_seed": search, "score_seed": score, "data_seed": data,
                     "method.name": method, "method.density": density,
                     "method.score_seed": held.get("method.score_seed"),
                     "train.data_seed": held.get("train.data_seed")}
                )  # fmt: skip
    obs = pd.DataFrame(rows, index=[f"{r['run_id']}/w{r['weight_seed']}/s{r['search_seed']}" for r in rows])
    return MaskSet.from_dense(np.array(dense), LAYOUT, obs)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


def brute_force(ms: MaskSet, layer: slice = slice(None)) -> dict[str, float]:
    """Mean Jaccard similarity of the pairs of each class, by looping over pairs."""
    dense, obs = ms.dense(), ms.obs
    values: dict[str, list[float]] = {}
    for i in range(len(ms)):
        for j in range(i + 1, len(ms)):
            if obs["weight_seed"].iloc[i] != obs["weight_seed"].iloc[j]:
                continue
            s = obs["score_seed"].iloc[i] == obs["score_seed"].iloc[j]
            d = obs["data_seed"].iloc[i] == obs["data_seed"].iloc[j]
            name = {(0, 0): "neither", (1, 0): "score seed", (0, 1): "data seed", (1, 1): "both"}[(s, d)]
            values.setdefault(name, []).append(jaccard(dense[i, layer], dense[j, layer]))
    return {k: float(np.mean(v)) for k, v in values.items()}


def test_class_means_equal_a_brute_force_computation():
    ms = family()
    table = ls.tl.seed_sources(ms)
    for layer, cols in (("whole", slice(None)), ("scored", slice(0, 120)), ("ordered", slice(120, 200))):
        expected = brute_force(ms, cols)
        got = table[table["layer"] == layer].set_index("shared")["similarity"]
        assert set(got.index) == set(expected)
        for name, value in expected.items():
            assert got[name] == pytest.approx(value)
    rows = table[table["layer"] == "whole"].set_index("shared")
    assert rows.loc["both", "similarity"] == 1.0  # search 0 of every design is the same search
    assert rows.loc["score seed", "varies"] == "data order" and rows.loc["data seed", "varies"] == "scores"
    # 12 masks: (0, 0) three times; pairs sharing the score seed only: the score-held run among
    # itself and with (0, 0)s, plus the data-held run's s with the free run's s (s > 0)
    n = rows["n_pairs"]
    assert n.sum() == 66 and n["both"] == 3


def test_one_class_gets_the_intervals_of_diversity():
    ms = family()
    free = ms[(ms.obs["run_id"] == "edge_popup-0.5-free").to_numpy()]
    table = ls.tl.seed_sources(free).set_index("layer")
    ls.tl.distances(free, per_layer=True)
    expected = ls.tl.diversity(free).set_index("layer")
    for col in ("similarity", "similarity_ci_low", "similarity_ci_high", "excess_ci_low", "chance_similarity",
                "p_value"):  # fmt: skip
        assert table.loc["whole", col] == pytest.approx(expected.loc["whole", col])
        assert table.loc["scored", col] == pytest.approx(expected.loc["scored", col])


def test_leave_one_out_jackknife_of_any_pair_set():
    from landscape.tl._pairsets import jackknife_se, leave_one_out

    rng = np.random.default_rng(5)
    m = 6
    sim = rng.random((m, m))
    sim = (sim + sim.T) / 2
    i, j = np.triu_indices(m, 1)
    sums, counts = leave_one_out(sim[i, j], i, j, m)
    se, u = jackknife_se(sim[i, j].mean(), sums / counts, np.ones(m, dtype=bool))
    assert u == m and se == pytest.approx(float(_stats.jackknife_se(sim[..., None])[0]))


def test_fractions_explained_follow_from_the_class_means():
    ms = family()
    ls.tl.seed_sources(ms)
    explained = ms.uns["seed_sources"]["explained"].set_index(["source", "layer"])
    means = brute_force(ms, slice(0, 120))
    scores = explained.loc[("scores", "scored")]
    assert scores["explained"] == pytest.approx(
        (means["score seed"] - means["neither"]) / (1 - means["neither"])
    )
    assert scores["both_level"] == "measured"
    # planted: the score seed decides the first layer, the data seed the second
    assert scores["explained"] > 0.5 > explained.loc[("data order", "scored"), "explained"]
    assert explained.loc[("data order", "ordered"), "explained"] > 0.5
    assert scores["explained_ci_low"] < scores["explained"] < scores["explained_ci_high"]


def test_families_keep_configurations_apart_and_pool_only_the_held_seeds():
    ms = MaskSet.concat([family(density=0.5), family(density=0.3)])
    table = ls.tl.seed_sources(ms)
    # per family: 66 pairs, each in one row per layer (whole network and two layers)
    assert table.groupby("group")["n_pairs"].sum().tolist() == [66 * 3, 66 * 3]
    assert set(table["density"]) == {0.3, 0.5}


def test_networks_are_never_paired_and_are_summarised_with_a_t_interval():
    ms = family(networks=(0, 1))
    ls.tl.seed_sources(ms)
    summary = ms.uns["seed_sources"]["summary"]
    whole = summary[summary["layer"] == "whole"].set_index("shared")
    assert whole.loc["neither", "n_networks"] == 2 and whole.loc["neither", "interval"] == "networks"
    assert whole["n_pairs"].sum() == 2 * 66


def test_pairs_across_two_selections_class_the_twins():
    ms = MaskSet.concat([family("edge_popup"), family("biprop")])
    table = ls.tl.seed_sources(ms, a={"method": "edge_popup"}, b={"method": "biprop"})
    whole = table[table["layer"] == "whole"].set_index("shared")
    dense, obs = ms.dense(), ms.obs
    a = np.flatnonzero(obs["method"] == "edge_popup")
    b = np.flatnonzero(obs["method"] == "biprop")
    twins = [
        jaccard(dense[i], dense[j])
        for i in a
        for j in b
        if obs["score_seed"].iloc[i] == obs["score_seed"].iloc[j]
        and obs["data_seed"].iloc[i] == obs["data_seed"].iloc[j]
    ]
    assert whole.loc["both", "similarity"] == pytest.approx(np.mean(twins))
    assert whole["n_pairs"].sum() == len(a) * len(b)
    assert whole.loc["both", "similarity"] < 1  # the planted methods differ in the first layer
    explained = ms.uns["seed_sources"]["explained"]
    assert set(explained["both_level"]) == {"measured"}


def test_needs_seed_columns_and_both_selections():
    ms = MaskSet.from_dense(np.eye(4, 200, dtype=bool), LAYOUT)
    with pytest.raises(AnalysisError, match="score_seed"):
        ls.tl.seed_sources(ms)
    with pytest.raises(AnalysisError, match="both a and b"):
        ls.tl.seed_sources(family(), a={"method": "edge_popup"})


def _explained_by_scores(ms: MaskSet, keep: list[int]) -> float:
    means = brute_force(ms[np.array(keep)], slice(0, 120))
    if "score seed" not in means or "neither" not in means:
        return float("nan")
    top = means.get("both", 1.0)
    return (means["score seed"] - means["neither"]) / (top - means["neither"])


def test_explained_interval_is_the_delete_one_mask_jackknife_over_every_mask():
    ms = family()
    ls.tl.seed_sources(ms)
    row = ms.uns["seed_sources"]["explained"].set_index(["source", "layer"]).loc[("scores", "scored")]
    n = len(ms)
    loo = np.array([_explained_by_scores(ms, [k for k in range(n) if k != u]) for u in range(n)])
    se = np.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())
    lo, hi = _stats.interval(_explained_by_scores(ms, list(range(n))), se, n - 1)
    assert row["n_masks"] == n
    assert (row["explained_ci_low"], row["explained_ci_high"]) == pytest.approx((lo, hi))


def test_explained_has_no_interval_when_leaving_out_a_mask_empties_a_class():
    # one pair of the six masks shares a score seed: without either of its masks "share the
    # score seed" has no pair, so the jackknife is undefined (it used to drop those two masks
    # and report a narrow interval that ignored the only pair carrying the effect)
    seeds = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (0, 5)]
    dense = np.array([planted(s, d) for s, d in seeds])
    obs = pd.DataFrame(
        {"method": "edge_popup", "density": 0.5, "weight_seed": 0, "search_seed": range(6),
         "score_seed": [s for s, _ in seeds], "data_seed": [d for _, d in seeds]},
        index=[f"r/w0/s{k}" for k in range(6)],
    )  # fmt: skip
    ms = MaskSet.from_dense(dense, LAYOUT, obs)
    ls.tl.seed_sources(ms)
    row = ms.uns["seed_sources"]["explained"].set_index(["source", "layer"]).loc[("scores", "whole")]
    assert np.isfinite(row["explained"]) and row["n_masks"] == 6
    assert np.isnan(row["explained_ci_low"]) and np.isnan(row["explained_ci_high"])
