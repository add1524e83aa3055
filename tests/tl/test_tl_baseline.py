import numpy as np
import pandas as pd
import pytest

from landscape import tl
from landscape.store.layout import Layout
from landscape.tl._chance_moments import hypergeom_moments, jaccard_delta, jaccard_exact
from tests.tl.conftest import make_maskset

LAYOUT = Layout([("a", (40,)), ("b", (10, 9))])


def fixed_k_masks(rng, n_masks, counts):
    dense = []
    for _ in range(n_masks):
        parts = []
        for spec, k in zip(LAYOUT, counts):
            row = np.zeros(spec.numel, dtype=bool)
            row[rng.choice(spec.numel, k, replace=False)] = True
            parts.append(row)
        dense.append(np.concatenate(parts))
    return np.array(dense)


def test_baseline_matches_monte_carlo():
    rng = np.random.default_rng(0)
    counts = (12, 45)
    ms = make_maskset(fixed_k_masks(rng, 2, counts), LAYOUT)
    table = tl.random_baseline(ms, metric=("jaccard", "hamming", "matching"), groupby=None)
    a, b = fixed_k_masks(rng, 3000, counts), fixed_k_masks(rng, 3000, counts)  # independent pairs

    def dists(sl, n):
        inter = (a[:, sl] & b[:, sl]).sum(1)
        union = (a[:, sl] | b[:, sl]).sum(1)
        return 1 - inter / union, (a[:, sl] != b[:, sl]).sum(1) / n

    jac, ham = dists(slice(None), 130)
    jac_a, _ = dists(slice(0, 40), 40)
    _, ham_b = dists(slice(40, 130), 90)
    observed = {  # similarities, as the table reports them
        ("whole", "jaccard"): 1 - jac,
        ("whole", "hamming"): 1 - ham,
        ("whole", "matching"): 1 - ham,
        ("a", "jaccard"): 1 - jac_a,
        ("b", "hamming"): 1 - ham_b,
    }
    rows = table.set_index(["layer", "metric"])
    for key, values in observed.items():
        mean, sd = rows.loc[key, "chance_similarity"], rows.loc[key, "chance_similarity_sd"]
        assert abs(values.mean() - mean) < 4 * sd / np.sqrt(len(values)), key
        assert values.std() == pytest.approx(sd, rel=0.08), key
    assert set(table["layer"]) == {"whole", "a", "b"}
    assert ms.uns["random_baseline"]["table"] is table


def test_baseline_inside_a_source_matches_monte_carlo(monkeypatch):
    """Random masks inside a source keep its locked weights, never its left-out ones, and
    choose the rest uniformly among the free: the chance level is theirs (exact Jaccard sums
    per layer, delta method for the network), not that of masks over whole layers."""
    from landscape.tl._source_frame import SourceFrame, SourceFrames

    rng = np.random.default_rng(1)
    # per layer of LAYOUT (40 and 90 weights): left out, locked; masks keep 12 and 45
    out = [np.arange(0, 10), 40 + np.arange(0, 30)]
    locked = [np.arange(10, 14), 40 + np.arange(30, 40)]
    free = [np.arange(14, 40), 40 + np.arange(40, 90)]
    counts = (12, 45)

    def draw(n):
        dense = np.zeros((n, 130), dtype=bool)
        for lk, fr, k in zip(locked, free, counts):
            dense[:, lk] = True
            pick = np.argsort(rng.random((n, len(fr))), axis=1)[:, : k - len(lk)]
            np.put_along_axis(dense, fr[pick], True, axis=1)
        return dense

    frame = SourceFrame(np.array([26, 50]), np.array([4, 10]), "synthetic")
    monkeypatch.setattr(SourceFrames, "of", lambda self, pos: frame)
    ms = make_maskset(draw(2), LAYOUT)
    table = tl.random_baseline(ms, metric=("jaccard", "hamming"), groupby=None)
    a, b = draw(4000), draw(4000)
    assert not (a[:, np.concatenate(out)]).any() and a[:, np.concatenate(locked)].all()

    def similarities(sl, n):
        inter = (a[:, sl] & b[:, sl]).sum(1)
        union = (a[:, sl] | b[:, sl]).sum(1)
        return inter / union, 1 - (a[:, sl] != b[:, sl]).sum(1) / n

    jac, ham = similarities(slice(None), 130)
    jac_a, ham_a = similarities(slice(0, 40), 40)
    jac_b, ham_b = similarities(slice(40, 130), 90)
    observed = {
        ("whole", "jaccard"): jac, ("whole", "hamming"): ham, ("a", "jaccard"): jac_a,
        ("a", "hamming"): ham_a, ("b", "jaccard"): jac_b, ("b", "hamming"): ham_b,
    }  # fmt: skip
    rows = table.set_index(["layer", "metric"])
    assert (table["chance_null"] == "source").all()
    for key, values in observed.items():
        mean, sd = rows.loc[key, "chance_similarity"], rows.loc[key, "chance_similarity_sd"]
        assert abs(values.mean() - mean) < 4 * sd / np.sqrt(len(values)), key
        assert values.std() == pytest.approx(sd, rel=0.08), key
    # masks over whole layers would share far less: that level is not theirs
    monkeypatch.undo()
    whole_layers = tl.random_baseline(ms, metric="jaccard", groupby=None, copy=True)
    assert (whole_layers["chance_null"] == "layers").all()
    assert whole_layers.query("layer == 'whole'")["chance_similarity"].iloc[0] < jac.mean() - 0.1


def test_hamming_baseline_is_closed_form():
    n, k = 1000, 500
    mean_i, var_i = hypergeom_moments(n, k, k)
    assert mean_i == 250
    assert (2 * k - 2 * mean_i) / n == 0.5  # 2 d (1 - d) at density 0.5


def test_delta_method_agrees_with_exact_sum_for_large_layers():
    n, k1, k2 = 100_000, 30_000, 52_000
    mean_i, var_i = hypergeom_moments(n, k1, k2)
    exact = jaccard_exact(n, k1, k2)
    delta = jaccard_delta(mean_i, var_i, k1 + k2)
    assert delta[0] == pytest.approx(exact[0], rel=1e-7)
    assert delta[1] == pytest.approx(exact[1], rel=1e-3)
    assert jaccard_exact(10, 0, 0) == (0.0, 0.0)


def test_groups_and_copy():
    rng = np.random.default_rng(1)
    dense = np.vstack([fixed_k_masks(rng, 3, (10, 20)), fixed_k_masks(rng, 3, (30, 60))])
    obs = pd.DataFrame({"method": ["ep"] * 3 + ["bp"] * 3})
    ms = make_maskset(dense, LAYOUT, obs)
    table = tl.random_baseline(ms, metric="hamming", per_layer=False, copy=True)
    assert "random_baseline" not in ms.uns
    whole = table.set_index("method")["chance_similarity"]
    assert whole["ep"] == pytest.approx(1 - (2 * 10 * 30 / 40 + 2 * 20 * 70 / 90) / 130)
    assert (table["n_pairs"] == 3).all()
    assert list(table["group"]) == ["ep", "bp"]  # labelled by the field that differs


def test_pairs_stay_inside_one_network():
    rng = np.random.default_rng(2)
    dense = fixed_k_masks(rng, 6, (10, 20))
    obs = pd.DataFrame({"method": ["ep"] * 6, "weight_seed": [0, 0, 0, 1, 1, 1]})
    table = tl.random_baseline(make_maskset(dense, LAYOUT, obs), metric="jaccard", per_layer=False)
    assert table["n_pairs"].tolist() == [6]  # 3 + 3 pairs, none across the two networks


def test_chance_moments_exact_per_distinct_sizes_then_delta():
    """Jaccard chance moments are the exact pmf sums of each distinct (K1, K2) while there
    are at most MAX_EXACT_COMBOS of them, and the delta method per pair beyond."""
    from landscape.tl._chance_moments import MAX_EXACT_COMBOS, _jaccard_layer

    rng = np.random.default_rng(0)
    n = 500
    few = rng.choice([0, 10, 250, 499, 500], size=(2, 400))
    mean, sd = _jaccard_layer(n, few[0], few[1])
    exact = np.array([jaccard_exact(n, int(min(a, b)), int(max(a, b))) for a, b in few.T])
    np.testing.assert_array_equal(mean, exact[:, 0])
    np.testing.assert_array_equal(sd, exact[:, 1])
    for n_combos, is_exact in ((MAX_EXACT_COMBOS, True), (MAX_EXACT_COMBOS + 1, False)):
        k1 = np.arange(n_combos) + 1
        k2 = np.ones(n_combos, dtype=int)  # n_combos distinct (K1, K2)
        k1, k2 = np.r_[k1, k2], np.r_[k2, k1]  # each combination twice, in both orders
        mean, sd = _jaccard_layer(n, k1, k2)
        if is_exact:
            expected = np.array([jaccard_exact(n, int(min(a, b)), int(max(a, b))) for a, b in zip(k1, k2)]).T
        else:
            expected = jaccard_delta(*hypergeom_moments(n, k1, k2), k1 + k2)
        np.testing.assert_array_equal(mean, expected[0])
        np.testing.assert_array_equal(sd, expected[1])
