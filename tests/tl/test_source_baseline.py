"""Masks searched inside an ER or partially frozen source share its left-out and locked
weights: the analytic chance level of uniformly random masks over whole layers does not
describe them. Their chance level is that of random masks inside the same source, redrawn
from their run; where it cannot be, and in the tools without a null for sources, no chance,
excess or test is given (real random-mask runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landscape import tl
from landscape.config import load_config
from landscape.reading import read_runs
from landscape.search.runner import run_search
from landscape.tl.baseline import in_a_source

SOURCES = {
    "dense": {"method.source.kind": "dense"},
    "er": {"method.source.kind": "er", "method.source.density": 0.5},
    "frozen": {"method.source.kind": "frozen", "method.source.pruned": 0.3, "method.source.locked": 0.1},
}


@pytest.fixture(scope="module")
def null_runs(tmp_path_factory):
    return _random_mask_runs(tmp_path_factory.mktemp("sources"), SOURCES.values(), 0.2, [0], 6)


def _random_mask_runs(root, sources, density: float, weight_seeds, n_masks: int):
    """Random masks (the null itself) of a 32-32 MLP inside each source, with distances."""
    for overrides in sources:
        cfg = load_config(
            "configs/digits_mlp_edge_popup.yaml",
            {
                "method.name": "random",
                "train.epochs": 0,
                "model.hidden": [32, 32],
                "method.density": density,
                **overrides,
            },
        )
        run_search(cfg, root, weight_seeds, list(range(n_masks)), progress=False)
    ms = read_runs(root)
    tl.distances(ms, metric="jaccard", per_layer=True)
    return ms


def test_random_masks_in_a_source_are_at_the_chance_level_of_their_source(null_runs):
    ms = null_runs
    kinds = ms.obs["method.source.kind"].astype(str)
    assert in_a_source(ms.obs).tolist() == (kinds != "dense").tolist()
    table = tl.diversity(ms)
    kind_of = dict(zip(ms.obs["run_id"].astype(str), kinds))
    table["kind"] = [kind_of[r] for r in table["run_id"].astype(str)]
    dense = table[table["kind"] == "dense"]
    # the dense source is the analytic null's own setting: random masks at chance
    assert (
        dense["chance_similarity"].notna().all() and (dense.query("layer == 'whole'")["p_value"] > 0.01).all()
    )
    inside = table[table["kind"] != "dense"]
    # random masks inside a source overlap far above the whole-layer chance level: the tables
    # must not call that excess similarity
    assert (
        inside.query("layer == 'whole'")["similarity"] > dense.query("layer == 'whole'")["similarity"].max()
    ).all()
    # ... and at the chance level of random masks inside the same source
    whole = inside.query("layer == 'whole'")
    assert (whole["chance_similarity"] > dense.query("layer == 'whole'")["chance_similarity"].max()).all()
    assert (inside["chance_null"] == "source").all() and (dense["chance_null"] == "layers").all()
    # random masks are the null itself: no test rejects it (the whole-layer level gave p < 1e-50)
    assert (inside["p_value"] > 0.001).all()
    assert (inside["excess_similarity"].abs() < 0.02).all()  # the whole-layer level: +0.14 and +0.30
    summary = ms.uns["diversity"]["summary"]
    kinds_in_summary = summary["run_id"].astype(str).map(kind_of)
    assert summary.loc[kinds_in_summary != "dense", ["excess_similarity", "p_value"]].notna().all().all()
    assert "inside the same source" in ms.uns["diversity"]["params"]["in_source"]
    assert "no_chance" not in ms.uns["diversity"]["params"]
    baseline = tl.random_baseline(ms, metric="jaccard")
    bkinds = baseline["run_id"].astype(str).map(kind_of)
    assert (baseline.loc[bkinds != "dense", "chance_null"] == "source").all()
    both = baseline.query("layer == 'whole'").assign(kind=lambda t: t["run_id"].astype(str).map(kind_of))
    chance_of = table.query("layer == 'whole'").set_index("kind")["chance_similarity"]
    for kind, value in zip(both["kind"], both["chance_similarity"]):
        assert value == pytest.approx(chance_of[kind], rel=1e-12), kind


@pytest.fixture(scope="module")
def other_sources(tmp_path_factory):
    """Random masks in two networks of an exact ERK source, a Bernoulli ER source and a
    frozen source ranked over the whole network."""
    sources = (
        {"method.source.kind": "er", "method.source.density": 0.5, "method.source.sampling": "exact",
         "method.source.er_distribution": "erk"},
        {"method.source.kind": "er", "method.source.density": 0.4, "method.source.sampling": "bernoulli"},
        {"method.source.kind": "frozen", "method.source.pruned": 0.2, "method.source.locked": 0.2,
         "method.source.scope": "global"},
    )  # fmt: skip
    return _random_mask_runs(tmp_path_factory.mktemp("other_sources"), sources, 0.3, [0, 1], 8)


def test_every_source_and_network_has_its_own_chance_level(other_sources):
    ms = other_sources
    table = tl.diversity(ms)
    assert len(table) == 3 * 2 * 4 and (table["chance_null"] == "source").all()
    whole = table.query("layer == 'whole'")
    assert (whole["p_value"] > 0.001).all() and (table["excess_similarity"].abs() < 0.02).all()
    # a Bernoulli source holds other counts in each network, so its chance levels differ
    bernoulli = ms.obs.loc[ms.obs["method.source.sampling"] == "bernoulli", "run_id"].iloc[0]
    levels = whole.loc[whole["run_id"] == bernoulli, "chance_similarity"]
    assert levels.nunique() == 2
    summary = ms.uns["diversity"]["summary"].query("layer == 'whole'")
    assert summary[["excess_ci_low", "excess_ci_high", "p_value"]].notna().all().all()
    assert ((summary["excess_ci_low"] < 0) & (summary["excess_ci_high"] > 0)).all()


def test_masks_that_leave_their_source_or_lost_their_run_have_no_chance_level(other_sources):
    from landscape.maskset import MaskSet
    from landscape.tl._source_frame import SourceFrames

    ms = other_sources
    run = ms.obs.loc[ms.obs["method.source.kind"] == "frozen", "run_id"].iloc[0]
    pos = np.flatnonzero(((ms.obs["run_id"] == run) & (ms.obs["weight_seed"] == 0)).to_numpy())
    assert SourceFrames(ms).of(pos) is not None
    dense = ms.dense()
    # the first mask drops one weight every mask keeps: not a mask of this source
    dense[pos[0], np.flatnonzero(dense[pos].all(axis=0))[0]] = False
    moved = MaskSet.from_dense(dense, ms.layout, ms.obs)
    moved.runs = dict(ms.runs)
    assert SourceFrames(moved).of(pos) is None
    without_runs = MaskSet.from_dense(ms.dense(), ms.layout, ms.obs)
    assert not without_runs.runs and SourceFrames(without_runs).of(pos) is None
    tl.distances(without_runs, metric="jaccard")
    table = tl.diversity(without_runs)
    assert table["chance_similarity"].isna().all() and table["similarity"].notna().all()
    assert "random-mask runs of the same source" in without_runs.uns["diversity"]["params"]["no_chance"]


def test_a_source_that_keeps_everything_is_the_dense_network():
    obs = pd.DataFrame(
        {
            "method.source.kind": ["er", "frozen", "dense", None, "sideways"],
            "method.source.density": [1.0, 1.0, 1.0, np.nan, 1.0],
            "method.source.pruned": [0.0, 0.0, 0.0, np.nan, 0.0],
            "method.source.locked": [0.0, 0.0, 0.0, np.nan, 0.0],
        }
    )
    assert in_a_source(obs).tolist() == [False, False, False, False, True]


def _kind(groups: pd.Series) -> np.ndarray:
    return groups.str.extract(r"source kind (\w+)")[0].fillna("dense").to_numpy()


def test_comparisons_across_sources_take_the_null_of_each_pair(null_runs):
    """A pair with a mask outside any source has the whole-layer level (a mask uniform over
    its layers overlaps any other hypergeometrically); two masks of one source, that
    source's; masks of two sources, none."""
    from landscape.tl.cross_method import TWIN_EFFECT

    ms = null_runs
    table = tl.cross_method(ms)
    side = table["comparison"].map({"within A": "a", "within B": "b"}).fillna("ab").to_numpy()
    kind_a, kind_b = _kind(table["group_a"]), _kind(table["group_b"])
    paired = (side != "ab") | (kind_a == "dense") | (kind_b == "dense") | (kind_a == kind_b)
    expected = paired & (table["comparison"] != TWIN_EFFECT).to_numpy()  # a difference: no level
    has_chance = table["chance_similarity"].notna().to_numpy()
    assert (~paired).any() and (has_chance == expected).all()
    # within a source: its own level, as tl.diversity gives it
    level = tl.diversity(ms).query("layer == 'whole'").assign(kind=lambda t: _kind(t["group"]))
    level = level.set_index("kind")["chance_similarity"]
    within = table[(side == "b") & (kind_b == "er")]
    assert len(within) and np.allclose(within["chance_similarity"], level["er"], rtol=0.05)
    dense = ms[np.flatnonzero((ms.obs["method.source.kind"] == "dense").to_numpy())]
    assert not in_a_source(dense.obs).any()


def test_pairs_of_masks_take_the_null_they_share(null_runs):
    from landscape.tl._source_frame import SourceFrames, pair_chance
    from landscape.tl.agreement import _structure
    from landscape.tl.baseline import chance_similarity, layer_sizes

    ms = null_runs
    kinds = ms.obs["method.source.kind"].astype(str).to_numpy()
    frames = SourceFrames(ms)
    counts, numel = layer_sizes(ms)
    er, frozen, dense = (np.flatnonzero(kinds == k) for k in ("er", "frozen", "dense"))
    i, j = np.repeat(er[:2], 3), np.concatenate([er[2:5], frozen[:3]])
    _, _, chance, _ = pair_chance(frames, i, j, counts, numel, "jaccard", i, j)
    inside = chance_similarity(counts, numel, "jaccard", i[:3], j[:3], frames.of(er))[2]
    assert np.array_equal(chance[:3], inside) and np.isnan(chance[3:]).all()
    i, j = er[:3], dense[:3]  # one mask uniform over whole layers: the whole-layer level
    _, _, chance, _ = pair_chance(frames, i, j, counts, numel, "jaccard", i, j)
    assert np.array_equal(chance, chance_similarity(counts, numel, "jaccard", i, j)[2])
    # the structural diversity of tl.agreement: 1 - similarity over 1 - chance, per pair
    positions = np.concatenate([er[:3], frozen[:2]])
    jaccard = 1 - ms.obsp["dist_jaccard"]
    out = _structure(jaccard, counts, numel, positions, frames)["structural_diversity"]
    assert np.isfinite(out[:3, :3]).all() and np.isnan(out[:3, 3:]).all() and np.isfinite(out[3:, 3:]).all()
    level = chance_similarity(counts, numel, "jaccard", er[:1], er[1:2], frames.of(er))[2][0]
    assert out[0, 1] == pytest.approx((1 - jaccard[er[0], er[1]]) / (1 - level))


def test_the_printed_similarity_table_says_what_a_source_is_compared_with(null_runs):
    from landscape.analysis.summary import _diversity_lines
    from landscape.tl._source_frame import IN_SOURCE_NOTE
    from landscape.tl.baseline import SOURCE_NOTE

    tl.diversity(null_runs)
    summary = null_runs.uns["diversity"]["summary"]
    text = "\n".join(_diversity_lines(summary, "jaccard"))
    assert IN_SOURCE_NOTE in text and SOURCE_NOTE not in text and "nan" not in text.lower()
    named = text.split(IN_SOURCE_NOTE)[0].splitlines()[-1]  # the note names the groups
    assert "random+er" in named and "random+frozen" in named and "dense" not in named
    # a group whose source cannot be redrawn: no chance level, and the reason
    unknown = summary.assign(chance_similarity=np.nan, excess_similarity=np.nan, chance_null=np.nan)
    text = "\n".join(_diversity_lines(unknown, "jaccard"))
    assert SOURCE_NOTE in text and "nan" not in text.lower()


def test_selection_frequencies_in_a_source_are_not_tested_against_independent_masks(null_runs):
    table = tl.consensus(null_runs)
    kind_of = dict(zip(null_runs.obs["run_id"].astype(str), null_runs.obs["method.source.kind"].astype(str)))
    sourced = table["run_id"].astype(str).map(kind_of) != "dense"
    assert sourced.any() and (~sourced).any()
    for column in ("chi2", "chi2_pvalue", "frac_none_null", "dispersion"):
        assert table.loc[sourced, column].isna().all() and table.loc[~sourced, column].notna().all(), column
    # an ER source leaves weights out of every mask: observed, not compared with a null
    assert (table.loc[sourced, "frac_none"] > 0).all()


def test_input_frequencies_in_a_source_get_no_binomial_band(null_runs):
    tl.input_frequency(null_runs)
    summary = null_runs.uns["input_frequency"]["summary"]
    kind_of = dict(zip(null_runs.obs["run_id"].astype(str), null_runs.obs["method.source.kind"].astype(str)))
    sourced = summary["run_id"].astype(str).map(kind_of) != "dense"
    assert sourced.any() and summary.loc[sourced, ["outside", "chi2_pvalue"]].isna().all().all()
    assert summary.loc[~sourced, ["outside", "chi2_pvalue"]].notna().all().all()


def test_a_pooled_group_with_a_network_in_a_source_has_no_chance_level(null_runs):
    # every run is at density 0.2: pooled by density, the sources' masks meet in one group
    tl.diversity(null_runs, groupby=("density",))
    summary = null_runs.uns["diversity"]["summary"]
    assert len(summary) == 4  # one group: the whole network and three layers
    assert (
        summary[["chance_similarity", "excess_similarity", "p_value", "chance_range_low"]].isna().all().all()
    )


def test_a_network_without_a_chance_level_leaves_the_group_without_a_test():
    from landscape.tl.diversity import across_networks

    row = {"group": "g", "layer": "whole", "metric": "jaccard", "weight_seed": 0, "n_masks": 4, "n_pairs": 6}
    stats = {"similarity": 0.3, "similarity_ci_low": 0.2, "similarity_ci_high": 0.4, "excess_ci_low": 0.0}
    sourced = row | stats | {"chance_similarity": np.nan, "excess_similarity": np.nan, "excess_ci_high": 0.0}
    sourced |= {"_excess_sum": np.nan, "_null_var_sum": 0.01}
    dense = row | stats | {"weight_seed": 1, "chance_similarity": 0.1, "excess_similarity": 0.2}
    dense |= {"excess_ci_high": 0.3, "_excess_sum": 1.2, "_null_var_sum": 0.01}
    summary = across_networks(pd.DataFrame([sourced, dense]))
    assert summary[["chance_similarity", "p_value", "chance_range_low"]].isna().all().all()


def test_similarity_over_training_in_a_source_has_the_chance_level_of_the_source(tmp_path):
    cfg = load_config(
        "configs/digits_mlp_edge_popup.yaml",
        {
            "train.epochs": 2,
            "train.snapshot_every": 1,
            "model.hidden": [16, 16],
            "train.batch_size": 256,
            "method.density": 0.2,
            **SOURCES["er"],
        },
    )
    run_search(cfg, tmp_path, [0], [0, 1, 2], progress=False)
    snaps = read_runs(tmp_path, snapshots=True)
    table = tl.trajectory(snaps)
    within = snaps.uns["trajectory"]["similarity"]
    assert len(within) and within[["similarity", "chance_similarity", "p_value"]].notna().all().all()
    assert (within["chance_null"] == "source").all() and table["chance_initial"].notna().all()
    # the last epoch's masks are the stored ones: the same level as tl.diversity's
    final = read_runs(tmp_path)
    tl.distances(final, metric="jaccard", per_layer=True)
    level = tl.diversity(final).set_index("layer")["chance_similarity"]
    last = within[within["epoch"] == within["epoch"].max()].set_index("layer")["chance_similarity"]
    assert np.allclose(last.loc[level.index], level, rtol=1e-12)
