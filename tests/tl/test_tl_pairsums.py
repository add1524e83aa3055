"""The one-pass sums behind tl.diversity and tl.random_baseline against the definitions:
full (m, m, L + 1) matrices of similarity, chance and chance variance per network
(`_stats.within_network`) and per-pair chance moments (`baseline.chance_similarity`)."""

import importlib

import numpy as np
import pandas as pd
import pytest

from landscape import tl
from landscape.reading import read_runs
from landscape.store.layout import Layout
from landscape.tl import _chance_moments, _stats, baseline
from landscape.tl._source_frame import SourceFrame, SourceFrames, null_of
from landscape.tl.baseline import chance_similarity
from tests.tl.conftest import ODD_LAYOUT, make_maskset
from tests.tl.test_tl_tiles import small_job, special_masks, write_runs

diversity = importlib.import_module("landscape.tl.diversity")  # the module, not the function
RTOL, ATOL = 1e-12, 1e-15  # ATOL: spreads that are zero up to rounding


def reference_network_rows(
    g, net, pos, whole, layered, counts, numel, metric, layer_names, pooled, frame=None, twins=0
):
    """The per-network rows from full matrices, as the definitions state them."""
    m = len(pos)
    i_loc, j_loc = np.triu_indices(m, 1)
    dist = whole[np.ix_(pos, pos)][..., None]
    if layered is not None:
        dist = np.concatenate([dist, layered[np.ix_(pos, pos)]], axis=2)
    sim = 1.0 - dist
    mean_l, sd_l, mean_w, sd_w = chance_similarity(counts, numel, metric, pos[i_loc], pos[j_loc], frame)
    pair_mean = np.concatenate([mean_w[:, None], mean_l], axis=1)[:, : sim.shape[2]]
    pair_var = np.concatenate([sd_w[:, None], sd_l], axis=1)[:, : sim.shape[2]] ** 2
    chance, chance_var = np.zeros_like(sim), np.zeros_like(sim)
    for out, values in ((chance, pair_mean), (chance_var, pair_var)):
        out[i_loc, j_loc] = out[j_loc, i_loc] = values
    st = _stats.within_network(sim, chance, chance_var)
    sim_lo, sim_hi = _stats.interval(st["similarity"], st["similarity_se"], m - 1)
    ex_lo, ex_hi = _stats.interval(st["excess"], st["excess_se"], m - 1)
    pair_sim = sim[i_loc, j_loc]
    rows = []
    for k, layer in enumerate(["whole", *layer_names][: sim.shape[2]]):
        v = pair_sim[:, k]
        rows.append(
            {"group": g.label, **g.key, **g.columns, "layer": layer, "metric": metric, "weight_seed": net,
             "n_masks": m, "n_pairs": len(v), "n_twin_pairs": twins, "similarity": st["similarity"][k],
             "similarity_sd": v.std(ddof=1) if len(v) > 1 else 0.0, "similarity_min": v.min(),
             "similarity_max": v.max(), "similarity_ci_low": sim_lo[k], "similarity_ci_high": sim_hi[k],
             "chance_similarity": st["chance"][k],
             "chance_similarity_sd": np.sqrt(pair_var[:, k].mean() + pair_mean[:, k].var()),
             "chance_null": null_of(frame),
             "excess_similarity": st["excess"][k], "excess_ci_low": ex_lo[k], "excess_ci_high": ex_hi[k],
             "p_value": _stats.two_sided_p(st["z"][k]), "pooled": pooled,
             "_excess_sum": st["excess"][k] * len(v), "_null_var_sum": st["null_var_sum"][k]}
        )  # fmt: skip
    return rows


def reference_baseline(ms, metrics, groups):
    """Chance rows pooled over every pair of the group (law of total variance)."""
    counts, numel = baseline.layer_sizes(ms)
    rows = []
    for g in groups:
        i, j = g.pairs()
        if not len(i):
            i = j = g.positions[:1]
        for metric in metrics:
            mean_l, sd_l, mean_w, sd_w = chance_similarity(counts, numel, metric, i, j)
            cols = [(mean_w, sd_w)] + [(mean_l[:, k], sd_l[:, k]) for k in range(len(numel))]
            for layer, (mean, sd) in zip(["whole", *ms.layout.names], cols):
                rows.append((g.label, metric, layer, mean.mean(), np.sqrt(np.mean(sd**2) + mean.var())))
    return pd.DataFrame(
        rows, columns=["group", "metric", "layer", "chance_similarity", "chance_similarity_sd"]
    )


def assert_tables_equal(ours: pd.DataFrame, ref: pd.DataFrame):
    assert list(ours.columns) == list(ref.columns) and len(ours) == len(ref)
    for col in ours.columns:
        a, b = ours[col].to_numpy(), ref[col].to_numpy()
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a, b.astype(float), rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=col)
        else:
            assert (a == b).all(), col


def masks(rng, layout, n_masks, kind):
    """Random masks whose per-layer counts are fixed, take a few values, or vary freely."""
    dense = np.zeros((n_masks, layout.n_weights), dtype=bool)
    start = 0
    for spec in layout:
        for row in dense:
            k = {
                "fixed": spec.numel // 3,
                "few": rng.choice([1, spec.numel // 2, spec.numel]),
                "varying": rng.integers(0, spec.numel + 1),
            }[kind]
            row[start + rng.choice(spec.numel, k, replace=False)] = True
        start += spec.numel
    return dense


def several_networks(rng, layout, kind, networks=(4, 2, 5, 1), groups=("x", "y")):
    parts, obs = [], []
    for method in groups:
        for seed, m in enumerate(networks):
            parts.append(masks(rng, layout, m, kind))
            obs += [{"method": method, "weight_seed": seed} for _ in range(m)]
    return make_maskset(np.vstack(parts), layout, pd.DataFrame(obs))


def both_routes(ms, metric, groupby="config"):
    """(table, summary) of tl.diversity and of the same call with the reference rows."""

    def run():
        table = tl.diversity(ms, metric=metric, groupby=groupby)
        return table, ms.uns["diversity"]["summary"]

    ours = run()
    current = diversity._network_rows
    diversity._network_rows = reference_network_rows
    try:
        ref = run()
    finally:
        diversity._network_rows = current
    return ours, ref


@pytest.mark.parametrize("kind", ["fixed", "few", "varying"])
@pytest.mark.parametrize("metric", ["jaccard", "hamming"])
def test_diversity_tables_equal_the_full_matrix_definition(kind, metric):
    rng = np.random.default_rng(["fixed", "few", "varying"].index(kind))
    ms = several_networks(rng, ODD_LAYOUT, kind)
    tl.distances(ms, per_layer=True)
    (ours, ours_summary), (ref, ref_summary) = both_routes(ms, metric)
    assert set(ours["layer"]) == {"whole", *ODD_LAYOUT.names} and ours["weight_seed"].nunique() == 3
    assert ours["similarity_ci_low"].isna().any()  # the two-mask network: no interval
    assert_tables_equal(ours, ref)
    assert_tables_equal(ours_summary, ref_summary)
    pooled, ref_pooled = both_routes(ms, metric, groupby=None)
    assert_tables_equal(pooled[0], ref_pooled[0])


def test_whole_network_only_one_layer_and_extreme_masks():
    rng = np.random.default_rng(7)
    layout = Layout([("w", (300,))])
    dense = masks(rng, layout, 12, "varying")
    dense[0], dense[1], dense[2] = False, True, False  # empty, all-ones, empty again
    ms = make_maskset(dense, layout, pd.DataFrame({"method": "m", "weight_seed": [0] * 6 + [1] * 6}))
    tl.distances(ms)  # no per-layer matrices: whole-network rows only
    for metric in ("jaccard", "hamming"):
        (ours, summary), (ref, ref_summary) = both_routes(ms, metric)
        assert list(ours["layer"]) == ["whole", "whole"]
        assert_tables_equal(ours, ref)
        assert_tables_equal(summary, ref_summary)


def masks_in_a_source(rng, layout, n_masks, kind, out_share=0.25, locked_share=0.2):
    """Masks inside one source (per layer a share of weights never kept, a share always kept,
    the rest chosen as :func:`masks` chooses) and that source's frame."""
    dense = np.zeros((n_masks, layout.n_weights), dtype=bool)
    free_n, locked_n, start = [], [], 0
    for spec in layout:
        order = start + rng.permutation(spec.numel)
        n_out, n_locked = int(out_share * spec.numel), int(locked_share * spec.numel)
        locked, free = order[n_out : n_out + n_locked], order[n_out + n_locked :]
        for row in dense:
            k = {
                "fixed": len(free) // 3,
                "few": rng.choice([0, len(free) // 2, len(free)]),
                "varying": rng.integers(0, len(free) + 1),
            }[kind]
            row[locked] = True
            row[rng.choice(free, k, replace=False)] = True
        free_n.append(len(free))
        locked_n.append(n_locked)
        start += spec.numel
    return dense, SourceFrame(np.array(free_n), np.array(locked_n), "synthetic")


@pytest.mark.parametrize("kind", ["fixed", "few", "varying"])
@pytest.mark.parametrize("metric", ["jaccard", "hamming"])
def test_the_pass_inside_a_source_equals_the_full_matrix_definition(monkeypatch, kind, metric):
    """Masks in a source: the compiled pass and the per-pair definitions agree (chance
    levels of random masks that keep the locked weights and choose the rest among the free)."""
    rng = np.random.default_rng(["fixed", "few", "varying"].index(kind) + 20)
    dense, frame = masks_in_a_source(rng, ODD_LAYOUT, 9, kind)
    ms = make_maskset(dense, ODD_LAYOUT, pd.DataFrame({"method": "m", "weight_seed": [0] * 6 + [1] * 3}))
    monkeypatch.setattr(SourceFrames, "of", lambda self, pos: frame)
    tl.distances(ms, per_layer=True)
    (ours, summary), (ref, ref_summary) = both_routes(ms, metric)
    assert (ours["chance_null"] == "source").all() and (summary["chance_null"] == "source").all()
    assert_tables_equal(ours, ref)
    assert_tables_equal(summary, ref_summary)
    # not the whole-layer chance level: left-out weights agree, locked ones are shared
    counts, numel = baseline.layer_sizes(ms)
    i, j = np.triu_indices(6, 1)
    inside = chance_similarity(counts, numel, metric, i, j, frame)[2]
    assert (inside > chance_similarity(counts, numel, metric, i, j)[2]).all()


@pytest.mark.parametrize("limit", ["support", "combos"])
def test_delta_method_beyond_the_exact_limits_as_before(monkeypatch, limit):
    """Layers past EXACT_SUPPORT or MAX_EXACT_COMBOS take the delta method in both routes."""
    rng = np.random.default_rng(11)
    dense = masks(rng, ODD_LAYOUT, 9, "few")
    dense[:, 105] = True  # layer "fc" (one weight) kept by all: one combination, support 1
    ms = make_maskset(dense, ODD_LAYOUT, pd.DataFrame({"method": "m", "weight_seed": [0] * 6 + [1] * 3}))
    tl.distances(ms, per_layer=True)
    monkeypatch.setattr(_chance_moments, "EXACT_SUPPORT" if limit == "support" else "MAX_EXACT_COMBOS", 2)
    counts, numel = baseline.layer_sizes(ms)
    exact, *_ = _chance_moments.exact_tables(counts, numel, "jaccard", [np.arange(6)])
    assert exact.any() and not exact.all()  # some layers exact, some by the delta method
    (ours, summary), (ref, ref_summary) = both_routes(ms, "jaccard")
    assert_tables_equal(ours, ref)
    assert_tables_equal(summary, ref_summary)


@pytest.mark.parametrize("kind", ["fixed", "few", "varying"])
def test_random_baseline_equals_pooling_every_pair(kind):
    rng = np.random.default_rng(5)
    ms = several_networks(rng, ODD_LAYOUT, kind, networks=(5, 1, 3), groups=("x", "y", "z"))
    z = ms.obs["method"] == "z"
    ms.obs.loc[z, "weight_seed"] = np.arange(z.sum())  # a group without pairs
    metrics = ("jaccard", "hamming", "matching")
    table = tl.random_baseline(ms, metric=metrics, copy=True)
    from landscape.grouping import group_masks

    ref = reference_baseline(ms, metrics, group_masks(ms.obs, "config"))
    ours = table[["group", "metric", "layer", "chance_similarity", "chance_similarity_sd"]]
    assert table.groupby("method")["n_pairs"].first().to_dict() == {"x": 13, "y": 13, "z": 0}
    assert_tables_equal(ours.reset_index(drop=True), ref)


def test_tables_from_memory_mapped_distances_equal_the_in_memory_ones(tmp_path):
    """Out-of-core distances leave per-layer matrices memory-mapped; the compiled pass reads
    them as they are."""
    dense = special_masks(n=9, seed=3)
    ms = read_runs(write_runs(tmp_path / "runs", dense))
    ref = ms.copy()
    tl.distances(ref, per_layer=True)
    small_job(ms, tmp_path / "tiles", block_rows=2, range_words=5)
    tl.distances(ms, per_layer=True, tiles=tmp_path / "tiles", memory=6_000)
    assert isinstance(ms.obsp["dist_jaccard_layers"], np.memmap)
    for metric in ("jaccard", "hamming"):
        ours = tl.diversity(ms, metric=metric)
        expected = tl.diversity(ref, metric=metric)
        assert len(ours) == 1 + len(ODD_LAYOUT.names)
        pd.testing.assert_frame_equal(ours, expected, check_exact=True)
