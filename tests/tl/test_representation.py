"""Linear CKA (identity, invariances, the feature-space formula) and representation similarity of
stored masks, checked against representations computed by hand from the rebuilt networks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landscape.errors import AnalysisError
from landscape.tl._cka import centred_gram, cka_from_grams, linear_cka

torch = pytest.importorskip("torch")


def _orthogonal(p: int, rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(p, p)))
    return q * np.sign(np.diag(r))


def test_cka_is_one_for_identical_representations_and_invariant():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 7))
    y = x @ rng.normal(size=(7, 5)) + 0.5 * rng.normal(size=(40, 5))
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    base = linear_cka(x, y)
    assert 0 < base < 1
    assert linear_cka(x @ _orthogonal(7, rng), y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x, y @ _orthogonal(5, rng)) == pytest.approx(base, abs=1e-12)
    assert linear_cka(3.7 * x, 0.01 * y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x + 5.0, y) == pytest.approx(base, abs=1e-12)  # features are centred
    # not invariant to stretching one feature (a check that the test could fail)
    stretch = np.ones(7)
    stretch[0] = 10.0
    assert abs(linear_cka(x * stretch, y) - base) > 1e-3


def test_cka_equals_the_feature_space_formula():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 9))
    xc, yc = x - x.mean(0), y - y.mean(0)
    expected = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    assert linear_cka(x, y) == pytest.approx(expected, rel=1e-12)
    grams = np.stack([centred_gram(x), centred_gram(y), centred_gram(np.ones((30, 2)))])
    matrix = cka_from_grams(grams)
    assert matrix[0, 1] == pytest.approx(expected, rel=1e-12) and np.isnan(matrix[2, 0])


def _hidden(model, x):
    """Inputs of fcs.1 and fcs.2 and the logits of a rebuilt one-mask MLP, computed layer by layer."""
    h, out = x.reshape(len(x), -1), []
    for i, fc in enumerate(model.fcs):
        h = h @ fc.effective_weight()[0].T
        if i < len(model.fcs) - 1:
            if len(model.bns):
                bn = model.bns[i].bn
                h = (h - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps)
            h = torch.relu(h)
        out.append(h.detach().double().numpy())
    return out


@pytest.mark.parametrize("extra", [(), ("model.batchnorm=nonaffine",)], ids=["plain", "batchnorm"])
def test_representation_similarity_matches_a_hand_computation(tmp_path, extra):
    import landscape as ls
    from landscape.search.runner import load_dataset
    from tests.conftest import search_tiny

    store = search_tiny(tmp_path / "runs", search_seeds=range(3), extra=extra)
    ms = ls.read_runs(tmp_path / "runs")
    table = ls.tl.representation_similarity(ms, n_examples=100, n_random=3)
    slot = ms.uns["representation_similarity"]
    assert list(table["representation"]) == ["fcs.1", "fcs.2", "logits"]
    assert slot["matrices"][0]["cka"].shape == (3, 6, 6)
    x_all = load_dataset(store.config.data).test[0]
    idx = np.sort(np.random.default_rng(_batch_seed(0)).choice(len(x_all), 100, replace=False))
    x = x_all[torch.as_tensor(idx)]
    reps = [_hidden(store.build_model(0, [s]), x) for s in range(3)]  # stored BatchNorm statistics
    for li in range(3):
        expected = np.array([[linear_cka(reps[a][li], reps[b][li]) for b in range(3)] for a in range(3)])
        np.testing.assert_allclose(slot["matrices"][0]["cka"][li, :3, :3], expected, atol=1e-5)
        i, j = np.triu_indices(3, 1)
        assert table["cka"].iloc[li] == pytest.approx(expected[i, j].mean(), abs=1e-5)
    random = slot["matrices"][0]["cka"][:, 3:, 3:]
    assert np.allclose(random, np.swapaxes(random, 1, 2)) and np.allclose(random[:, [0, 1, 2], [0, 1, 2]], 1)
    assert table["excess"].to_numpy() == pytest.approx((table["cka"] - table["random_cka"]).to_numpy())


def _batch_seed(rng: int) -> int:
    from landscape.tl._representation_engine import batch_seed as seed

    return seed(rng)


def test_a_mask_and_its_copy_have_cka_one(tiny_runs):
    import landscape as ls

    ms = ls.read_runs(tiny_runs, where="method == 'edge_popup'")
    # a MaskSet holds each mask once: the copy comes in as a second set
    twin = ls.MaskSet.concat([ms[[0]], ms[[0, 1]]], index_unique="-")
    twin.obs.index = ["a", "b", "c"]
    ls.tl.representation_similarity(twin, n_examples=64, at="output")
    cka = twin.uns["representation_similarity"]["matrices"][0]["cka"]
    assert twin.uns["representation_similarity"]["table"]["representation"].tolist() == [
        "fcs.0",
        "fcs.1",
        "fcs.2",
    ]
    assert np.allclose(cka[:, 0, 1], 1.0, atol=1e-6) and (cka[:, 0, 2] < 1 - 1e-3).all()
    with pytest.raises(AnalysisError, match="at="):
        ls.tl.representation_similarity(twin, at="middle")


def test_every_group_has_every_representation(tiny_runs):
    import landscape as ls

    ms = ls.read_runs(tiny_runs)
    table = ls.tl.representation_similarity(ms, n_examples=64)
    per_group = table.groupby("group")["representation"].apply(list)
    assert len(per_group) == 3 and all(reps == ["fcs.1", "fcs.2", "logits"] for reps in per_group)


@pytest.mark.parametrize("model", ["resnet20", "cnn1d"])
def test_conv_networks_give_each_layer_input_once(tmp_path, model):
    """Conv layouts (2-D and 1-D), BatchNorm and shortcuts: a ResNet block's input feeds its
    first conv and its shortcut, and is one representation."""
    import landscape as ls
    from tests.tl.test_barriers import _make_run

    cfg = _config_resnet() if model == "resnet20" else _config_cnn1d()
    _make_run(tmp_path, cfg, n_masks=3)
    ms = ls.read_runs(tmp_path)
    table = ls.tl.representation_similarity(ms, n_examples=32, n_random=2)
    reps = table["representation"].tolist()
    layers = ms.layout.names
    expected = [n for n in layers[1:] if "shortcut" not in n] + ["logits"]
    assert reps == expected
    cka = ms.uns["representation_similarity"]["matrices"][0]["cka"]
    assert cka.shape == (len(expected), 5, 5) and np.allclose(
        np.diagonal(cka, axis1=1, axis2=2), 1, atol=1e-5
    )


def _config_resnet():
    from landscape.config import SearchConfig

    return SearchConfig().replace(
        **{
            "model.name": "resnet20",
            "model.width_mult": 0.25,
            "data.name": "synthetic",
            "data.input_shape": [3, 8, 8],
            "data.n_classes": 3,
            "data.n_train": 64,
            "data.n_test": 40,
        }
    )


def _config_cnn1d():
    from landscape.config import SearchConfig

    return SearchConfig().replace(
        **{
            "model.name": "cnn1d",
            "model.batchnorm": "nonaffine",
            "data.name": "synthetic",
            "data.input_shape": [1, 40],
            "data.n_classes": 3,
            "data.n_train": 64,
            "data.n_test": 40,
        }
    )


def _cka_rows(cka, m, r):
    """Table rows of one network's CKA matrix ``(L, m + r, m + r)`` (no networks rebuilt)."""
    from landscape.grouping import group_masks
    from landscape.tl.representation import _rows

    (g,) = group_masks(pd.DataFrame({"weight_seed": [0] * m, "search_seed": range(m)}))
    return pd.DataFrame(_rows(g, 0, [f"r{k}" for k in range(len(cka))], cka, m, r, "input", 10))


def _cka_matrix(rng, n, constant=()):
    """CKA of ``n`` random representations of 10 examples, those in ``constant`` constant."""
    xs = [np.zeros((10, 5)) if k in constant else rng.normal(size=(10, 5)) for k in range(n)]
    return cka_from_grams(np.stack([centred_gram(x) for x in xs]))


def test_cka_of_a_dead_representation_is_left_out_not_counted_as_zero():
    # Stored masks 0..3; mask 3's representation r0 is constant (a dead layer): its 3 pairs have
    # no CKA. The mean runs over the 3 defined pairs; counting the undefined ones as 0 halves it.
    from landscape.tl import _stats

    rng = np.random.default_rng(0)
    m, r = 4, 3
    full = np.full((3, m + r, m + r), np.nan)
    full[0, :m, :m] = _cka_matrix(rng, m, constant=(3,))
    full[1, :m, :m] = _cka_matrix(rng, m)
    full[2, :m, :m] = _cka_matrix(rng, m, constant=(1, 2, 3))  # no pair defined
    for li in range(3):
        full[li, m:, m:] = _cka_matrix(rng, r)
    table = _cka_rows(full, m, r)
    i, j = np.triu_indices(3, 1)
    alive = full[0, :3, :3]
    row = table.iloc[0]
    assert row["cka"] == pytest.approx(alive[i, j].mean())
    assert row["n_pairs"] == 3 and row["n_random_pairs"] == 3
    se = _stats.jackknife_se(alive[:, :, None])[0]
    half = _stats.t_quantile(2) * se
    assert row["cka_ci_low"] == pytest.approx(row["cka"] - half)
    assert row["cka_ci_high"] == pytest.approx(row["cka"] + half)
    assert row["excess"] == pytest.approx(row["cka"] - row["random_cka"])
    assert np.isfinite(row["excess_ci_low"]) and np.isfinite(row["excess_ci_high"])
    # every pair defined: the plain mean over the 6 pairs and the jackknife over the 4 masks
    whole = table.iloc[1]
    i4, j4 = np.triu_indices(m, 1)
    assert whole["cka"] == pytest.approx(full[1, :m, :m][i4, j4].mean()) and whole["n_pairs"] == 6
    se4 = _stats.jackknife_se(full[1, :m, :m][:, :, None])[0]
    assert whole["cka_ci_high"] - whole["cka"] == pytest.approx(_stats.t_quantile(3) * se4)
    # no pair defined: NaN, not 0
    none = table.iloc[2]
    assert none["n_pairs"] == 0
    assert np.isnan(none["cka"]) and np.isnan(none["cka_ci_low"]) and np.isnan(none["excess"])


def test_cka_across_networks_skips_a_network_without_defined_pairs():
    from landscape.tl.representation import across_networks

    rng = np.random.default_rng(1)
    m, r = 3, 3
    dead = np.full((1, 6, 6), np.nan)
    dead[0, :m, :m] = _cka_matrix(rng, m, constant=(1, 2))
    dead[0, m:, m:] = _cka_matrix(rng, r)
    alive = np.full((1, 6, 6), np.nan)
    alive[0, :m, :m] = _cka_matrix(rng, m)
    alive[0, m:, m:] = _cka_matrix(rng, r)
    first = _cka_rows(alive, m, r)
    table = pd.concat([first, _cka_rows(dead, m, r).assign(weight_seed=1)], ignore_index=True)
    row = across_networks(table).iloc[0]
    assert row["cka"] == pytest.approx(first["cka"].iloc[0])  # the defined network's value
    assert row["cka_ci_low"] == pytest.approx(first["cka_ci_low"].iloc[0]) and row["interval"] == "masks"
    assert row["n_networks"] == 2 and row["n_networks_defined"] == 1 and row["n_pairs"] == 3
    both = table["random_cka"].to_numpy()
    assert row["random_cka"] == pytest.approx(both.mean())  # defined in both networks
    assert row["random_cka_interval"] == "networks" and row["excess_interval"] == "masks"
