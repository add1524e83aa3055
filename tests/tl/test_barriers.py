"""Loss barriers between masks: path geometry, exactness, symmetry, BatchNorm, outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from landscape.config import SearchConfig
from landscape.errors import AnalysisError
from landscape.maskset import MaskSet
from landscape.reading import read_runs
from landscape.search.evaluate import evaluate
from landscape.search.methods.base import kept_count
from landscape.search.runner import load_dataset
from landscape.search.trainer import build_model
from landscape.store.packing import pack_layers
from landscape.store.run_store import RunStore
from landscape.tl import _paths
from landscape.tl.barriers import barriers

torch.set_num_threads(1)


def _config(method: str = "edge_popup", batchnorm: str = "nonaffine") -> SearchConfig:
    return SearchConfig().replace(
        **{
            "model.hidden": [24, 16],
            "model.batchnorm": batchnorm,
            "method.name": method,
            # Biprop needs weights of varying magnitude (on constant |W| it is Edge-Popup)
            "model.weight_init": "kaiming_normal" if method == "biprop" else "signed_constant",
            "data.name": "synthetic",
            "data.input_shape": [12],
            "data.n_classes": 3,
            "data.n_train": 240,
            "data.n_test": 90,
        }
    )


def _random_masks(layout, n: int, density: float, seed: int) -> dict[str, np.ndarray]:
    """``n`` masks keeping exactly ``kept_count(numel, density)`` weights per layer."""
    rng = np.random.default_rng(seed)
    out = {}
    for spec in layout:
        k = kept_count(spec.numel, density)
        m = np.zeros((n, spec.numel), dtype=bool)
        for i in range(n):
            m[i, rng.choice(spec.numel, k, replace=False)] = True
        out[spec.name] = m.reshape(n, *spec.shape)
    return out


def _make_run(root, cfg: SearchConfig, weight_seeds=(0,), n_masks: int = 3) -> RunStore:
    """A real run directory holding random masks (no search needed for barrier properties)."""
    dataset = load_dataset(cfg.data)
    probe = build_model(cfg, dataset, 1, "cpu")
    info = {"input_shape": list(dataset.input_shape), "n_classes": dataset.n_classes}
    store = RunStore.create(root, cfg, probe.layout(), data_info=info)
    for w in weight_seeds:
        probe.init_weights(w, cfg.model.weight_init, cfg.method.density, cfg.model.scale_fan)
        store.set_weight_checksum(w, probe.weight_checksum())
        masks = _random_masks(store.layout, n_masks, cfg.method.density, seed=100 + w)
        records = [{"weight_seed": w, "search_seed": s, "test_acc": 0.0} for s in range(n_masks)]
        store.write_masks(pack_layers(masks, store.layout), records)
    return store


@pytest.fixture(scope="module")
def bn_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    _make_run(root, _config(batchnorm="nonaffine"), weight_seeds=(0, 1), n_masks=3)
    return root


@pytest.fixture(scope="module")
def plain_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    _make_run(root, _config("edge_popup", batchnorm="none"), n_masks=3)
    _make_run(root, _config("biprop", batchnorm="none"), n_masks=3)
    return root


# --------------------------------------------------------------------------------------------
# path geometry (no network)


def test_alpha_grid_has_exact_ends():
    a = _paths.alpha_grid(7)
    assert a[0] == 0.0 and a[-1] == 1.0 and len(a) == 7


def test_lerp_is_exact_at_ends_and_for_equal_values():
    a, b = np.array([0.1, 3.0, -2.5]), np.array([0.7, 3.0, 1e-9])
    assert np.array_equal(_paths.lerp(a, b, 0.0), a)
    assert np.array_equal(_paths.lerp(a, b, 1.0), b)
    for alpha in np.linspace(0, 1, 13):
        assert _paths.lerp(a, b, alpha)[1] == 3.0


@pytest.mark.parametrize("same_count", [True, False])
def test_swap_path_is_a_shortest_hamming_path(same_count):
    rng = np.random.default_rng(3)
    n = 200
    a = np.zeros(n, bool)
    a[rng.choice(n, 80, replace=False)] = True
    b = np.zeros(n, bool)
    b[rng.choice(n, 80 if same_count else 110, replace=False)] = True
    orders = _paths.swap_orders({"l": a}, {"l": b}, np.random.default_rng(0))
    alphas = _paths.alpha_grid(11)
    path = _paths.swap_masks(a, orders["l"], alphas)
    n_off, n_on = int((a & ~b).sum()), int((b & ~a).sum())
    d_ab = int((a ^ b).sum())
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    for alpha, m in zip(alphas, path):
        d_a, d_b = int((a ^ m).sum()), int((m ^ b).sum())
        assert d_a + d_b == d_ab  # on a shortest path
        assert not (m & ~a & ~b).any() and (a & b <= m).all()  # stays inside A ∪ B, keeps A ∩ B
        c_off, c_on = np.floor(alpha * n_off + 0.5), np.floor(alpha * n_on + 0.5)
        assert m.sum() == a.sum() - c_off + c_on
        if same_count:
            assert m.sum() == a.sum()
            assert d_a == 2 * np.floor(alpha * n_off + 0.5)


def test_swap_path_of_identical_masks_is_constant():
    a = np.random.default_rng(1).random((6, 5)) < 0.5
    orders = _paths.swap_orders({"l": a}, {"l": a}, np.random.default_rng(0))
    path = _paths.swap_masks(a, orders["l"], _paths.alpha_grid(5))
    assert (path == a).all()


def test_curve_barriers_definitions():
    alphas = _paths.alpha_grid(5)
    loss = np.array([1.0, 1.6, 2.0, 1.4, 0.6])
    acc = np.array([0.9, 0.5, 0.4, 0.7, 0.8])
    s = _paths.curve_barriers(alphas, loss, acc)
    chord = 1.0 + alphas * (0.6 - 1.0)
    assert s["barrier_loss"] == pytest.approx(np.max(loss - chord))
    assert s["alpha_max"] == 0.5
    assert s["barrier_loss_mean_based"] == pytest.approx(2.0 - 0.8)
    assert s["barrier_acc"] == pytest.approx(np.max(0.9 + alphas * (0.8 - 0.9) - acc))


def test_mask_distances():
    a = {"x": np.array([1, 1, 0, 0], bool), "y": np.array([[1, 0]], bool)}
    b = {"x": np.array([1, 0, 1, 0], bool), "y": np.array([[1, 0]], bool)}
    hamming, jaccard = _paths.mask_distances(a, b)
    assert hamming == pytest.approx(2 / 6)
    assert jaccard == pytest.approx(1 - 2 / 4)


def test_reestimate_batchnorm_sets_cumulative_statistics():
    cfg = _config(batchnorm="nonaffine")
    dataset = load_dataset(cfg.data)
    model = build_model(cfg, dataset, 1, "cpu")
    model.init_weights(0, cfg.model.weight_init)
    model.set_fixed_masks(_random_masks(model.layout(), 1, 0.5, seed=0))
    model.set_rule(None)
    wide = _paths.widen(model, 2)
    _paths.pin_masks(
        wide,
        None,
        _random_masks(model.layout(), 2, 0.5, seed=0),
        {n: layer.weight for n, layer in model.masked_layers()},
    )
    x = dataset.train[0]
    batches = [np.arange(0, 60), np.arange(60, 120)]
    _paths.reestimate_batchnorm(wide, x, batches)
    bn = wide.batchnorms()[0].bn
    assert int(bn.num_batches_tracked) == 2 and not wide.training
    with torch.no_grad():
        w0 = wide.fcs[0].effective_weight()[0]
        means = [(x[torch.as_tensor(b)].reshape(len(b), -1) @ w0.T).mean(0) for b in batches]
    expected = (means[0] + means[1]) / 2
    assert torch.allclose(bn.running_mean[:24], expected, atol=1e-5)
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))


# --------------------------------------------------------------------------------------------
# barriers on real run directories


def test_identical_masks_give_zero_barrier_exactly(bn_run):
    ms = read_runs(bn_run)
    table = barriers(ms, pairs=[(1, 1)], n_points=5, progress=False)
    assert (table["barrier_loss"] == 0.0).all()
    assert (table["barrier_acc"] == 0.0).all()
    curves = ms.uns["barrier"]["curves"]
    for _, c in curves.groupby("path"):
        assert c["loss"].nunique() == 1 and c["acc"].nunique() == 1
    assert table["hamming"].tolist() == [0.0, 0.0]


def test_barriers_are_exactly_symmetric(bn_run):
    ms = read_runs(bn_run)
    table = barriers(ms, pairs=[(0, 2), (2, 0)], n_points=5, progress=False)
    for path, t in table.groupby("path"):
        fwd, rev = t.iloc[0], t.iloc[1]
        for col in ("barrier_loss", "barrier_loss_mean_based", "barrier_acc", "hamming", "jaccard"):
            assert fwd[col] == rev[col], (path, col)
        assert (fwd["loss_start"], fwd["loss_end"]) == (rev["loss_end"], rev["loss_start"])
        curves = ms.uns["barrier"]["curves"]
        c = curves[curves["path"] == path]
        a, b = c[c["pair"] == 0], c[c["pair"] == 1]
        assert np.array_equal(a["loss"].to_numpy(), b["loss"].to_numpy()[::-1])
        assert np.array_equal(a["alpha"].to_numpy(), b["alpha"].to_numpy())
    matrix = ms.obsp["barrier"]
    assert matrix[0, 2] == matrix[2, 0] == table["barrier_loss"].iloc[0]


@pytest.mark.parametrize("method", ["edge_popup", "biprop"])
def test_linear_ends_reproduce_the_stored_networks(plain_runs, method):
    ms = read_runs(plain_runs, where={"method.name": method})
    table = barriers(ms, pairs=[(0, 1), (1, 2)], path="linear", n_points=4, progress=False)
    store = RunStore.open(ms.runs[ms.obs["run_id"].iloc[0]])
    model = store.build_model(0, [0, 1, 2])
    x, y = load_dataset(store.config.data).test
    loss, acc = evaluate(model, x, y, batch_size=256)
    assert table["loss_start"].tolist() == [loss[0].item(), loss[1].item()]
    assert table["loss_end"].tolist() == [loss[1].item(), loss[2].item()]
    assert table["acc_end"].tolist() == [acc[1].item(), acc[2].item()]
    assert not ms.uns["barrier"]["params"]["bn_reestimated"]


def test_linear_midpoint_interpolates_biprop_effective_weights(plain_runs):
    """At alpha = 1/2 the network is the average of the two Biprop networks (gains included)."""
    ms = read_runs(plain_runs, where={"method.name": "biprop"})
    table = barriers(ms, pairs=[(0, 2)], path="linear", n_points=3, progress=False)
    store = RunStore.open(ms.runs[ms.obs["run_id"].iloc[0]])
    ends = store.build_model(0, [0, 2])
    with torch.no_grad():
        mid = {n: layer.effective_weight().mean(0, keepdim=True) for n, layer in ends.masked_layers()}
    one = store.build_model(0, [0])
    _paths.pin_weights(one, mid)
    x, y = load_dataset(store.config.data).test
    loss, _ = evaluate(one, x, y, batch_size=256)
    mid_loss = ms.uns["barrier"]["curves"]["loss"].iloc[1]
    assert mid_loss == pytest.approx(loss[0].item(), rel=1e-5)
    assert table["barrier_loss"].iloc[0] >= 0


def test_swap_ends_match_linear_ends_and_batching_does_not_matter(bn_run):
    ms = read_runs(bn_run)
    a = barriers(ms, pairs=[(0, 1), (3, 5)], n_points=4, progress=False, key_added="a")
    b = barriers(ms, pairs=[(0, 1), (3, 5)], n_points=4, progress=False, batch_points=3, key_added="b")
    pd.testing.assert_frame_equal(ms.uns["a"]["curves"], ms.uns["b"]["curves"], rtol=1e-6)
    lin, swap = a[a["path"] == "linear"], a[a["path"] == "swap"]
    assert lin["loss_start"].tolist() == swap["loss_start"].tolist()
    assert lin["loss_end"].tolist() == swap["loss_end"].tolist()
    assert b["barrier_loss"].to_numpy() == pytest.approx(a["barrier_loss"].to_numpy(), rel=1e-5, abs=1e-7)


def test_batchnorm_reestimation_is_recorded_and_changes_results(bn_run):
    ms = read_runs(bn_run)
    barriers(ms, pairs=[(0, 1)], path="swap", n_points=3, bn_batches=1, batch_size=64, progress=False)
    params = ms.uns["barrier"]["params"]
    assert params["bn_reestimated"] and params["bn_batches_used"] == 1 and params["bn_augment"] is False
    one = ms.uns["barrier"]["curves"]["loss"].to_numpy()
    barriers(ms, pairs=[(0, 1)], path="swap", n_points=3, bn_batches=3, batch_size=64, progress=False)
    assert ms.uns["barrier"]["params"]["bn_batches_used"] == 3
    assert not np.array_equal(one, ms.uns["barrier"]["curves"]["loss"].to_numpy())


def test_all_pairs_stay_within_weight_seed_groups(bn_run):
    ms = read_runs(bn_run)  # 2 weight seeds x 3 masks
    table = barriers(ms, path="linear", n_points=3, progress=False)
    assert len(table) == 6
    assert all(
        ms.obs["weight_seed"].iloc[i] == ms.obs["weight_seed"].iloc[j] for i, j in zip(table.i, table.j)
    )
    matrix = ms.obsp["barrier"]
    assert matrix.shape == (6, 6) and matrix.dtype == np.float64
    assert np.isnan(matrix[0, 3]) and np.isnan(matrix[0, 0]) and np.isfinite(matrix[0, 1])
    np.testing.assert_array_equal(np.nan_to_num(matrix, nan=-1), np.nan_to_num(matrix.T, nan=-1))
    expected_cols = {
        "pair",
        "i",
        "j",
        "obs_i",
        "obs_j",
        "path",
        "split",
        "barrier_loss",
        "barrier_loss_mean_based",
        "barrier_acc",
        "loss_start",
        "loss_end",
        "hamming",
        "jaccard",
    }
    assert expected_cols <= set(table.columns)
    curves = ms.uns["barrier"]["curves"]
    assert list(curves.columns) == ["pair", "i", "j", "path", "alpha", "split", "loss", "acc"]
    assert len(curves) == 6 * 3


def test_random_pairs_are_reproducible(bn_run):
    ms = read_runs(bn_run)
    t1 = barriers(ms, pairs=2, path="linear", n_points=2, rng=5, progress=False)
    t2 = barriers(ms, pairs=2, path="linear", n_points=2, rng=5, progress=False)
    # N pairs per (run, weight seed): two networks, two pairs each
    assert len(t1) == 4 and t1[["i", "j"]].equals(t2[["i", "j"]])
    assert (t1.assign(w=ms.obs["weight_seed"].to_numpy()[t1["i"]]).groupby("w").size() == 2).all()
    assert ms.uns["barrier"]["params"]["pairs"] == 2
    t3 = barriers(ms, pairs=3, path="linear", n_points=2, rng=5, progress=False)
    assert set(map(tuple, t1[["i", "j"]].to_numpy())) <= set(map(tuple, t3[["i", "j"]].to_numpy()))


def test_stored_curves_are_reused_and_accumulate(bn_run, tmp_path):
    from landscape.store.results import ResultStore

    store = ResultStore(tmp_path / "analysis")
    ms = read_runs(bn_run)
    t1 = barriers(ms, pairs=1, path="linear", n_points=3, rng=1, progress=False, store=store)
    assert ms.uns["barrier"]["params"]["n_computed"] == 2 and ms.uns["barrier"]["params"]["n_reused"] == 0
    t2 = barriers(ms, pairs=2, path="linear", n_points=3, rng=1, progress=False, store=store)
    params = ms.uns["barrier"]["params"]
    assert params["n_computed"] == 2 and params["n_reused"] == 2  # only the new pairs ran
    assert params["bn_reestimated"]
    shared = t2.merge(t1, on=["obs_i", "obs_j", "path"], suffixes=("", "_before"))
    assert len(shared) == 2 and (shared["barrier_loss"] == shared["barrier_loss_before"]).all()
    # another alpha grid is another result: computed, nothing overwritten
    barriers(ms, pairs=1, path="linear", n_points=4, rng=1, progress=False, store=store)
    assert ms.uns["barrier"]["params"]["n_computed"] == 2
    assert len(list(store.records("barrier_curve"))) == 6


def test_pairs_across_weight_seeds(bn_run):
    ms = read_runs(bn_run)
    with pytest.raises(AnalysisError, match="across_seeds=True"):
        barriers(ms, pairs=[(0, 3)], progress=False)
    with pytest.raises(AnalysisError, match="path='linear'"):
        barriers(ms, pairs=[(0, 3)], across_seeds=True, progress=False)
    table = barriers(ms, pairs=[(0, 3)], path="linear", n_points=3, across_seeds=True, progress=False)
    assert np.isfinite(table["barrier_loss"]).all()


def test_pairs_across_runs_of_other_networks_are_refused(tmp_path):
    # a path is evaluated in one network: the first run's (BatchNorm or not, its data)
    _make_run(tmp_path, _config(batchnorm="none"), n_masks=2)
    _make_run(tmp_path, _config(batchnorm="nonaffine"), n_masks=2)
    ms = read_runs(tmp_path)
    runs = ms.obs["run_id"].to_numpy()
    i, j = 0, int(np.flatnonzero(runs != runs[0])[0])
    with pytest.raises(AnalysisError, match=r"differ in model.batchnorm \('none' vs 'nonaffine'\)|"
                       r"differ in model.batchnorm \('nonaffine' vs 'none'\)"):  # fmt: skip
        barriers(ms, pairs=[(i, j)], path="linear", n_points=3, across_seeds=True, progress=False)
    # runs that differ only in the method share the network: their linear path is defined
    _make_run(tmp_path / "m", _config("biprop", batchnorm="none"), n_masks=2)
    _make_run(tmp_path / "m", _config("edge_popup", batchnorm="none"), n_masks=2)
    ms = read_runs(tmp_path / "m")
    runs = ms.obs["run_id"].to_numpy()
    j = int(np.flatnonzero(runs != runs[0])[0])
    table = barriers(ms, pairs=[(0, j)], path="linear", n_points=3, across_seeds=True, progress=False)
    assert np.isfinite(table["barrier_loss"]).all()


def test_swap_refuses_masks_with_different_weights(plain_runs):
    ms = read_runs(plain_runs, where={"method.name": "edge_popup"})
    store = RunStore.open(next(iter(ms.runs.values())))

    def changed_weights(run_id, weight_seed, search_seeds, device):
        model = store.build_model(weight_seed, search_seeds, device=device)
        for _, layer in model.masked_layers():
            layer.expand_weight()
            layer.weight[1:] *= 1.5
        return model

    with pytest.raises(AnalysisError, match="different weights"):
        barriers(ms, pairs=[(0, 1)], path="swap", progress=False, model_factory=changed_weights)
    table = barriers(
        ms, pairs=[(0, 1)], path="linear", n_points=3, progress=False, model_factory=changed_weights
    )
    assert np.isfinite(table["barrier_loss"]).all()


def test_in_memory_maskset_with_injected_factories():
    cfg = _config(batchnorm="none")
    dataset = load_dataset(cfg.data)

    def factory(run_id, weight_seed, search_seeds, device):
        model = build_model(cfg, dataset, len(search_seeds), device)
        model.init_weights(weight_seed, cfg.model.weight_init)
        from landscape.search.trainer import build_method

        model.set_rule(build_method(cfg))
        return model

    layout = factory("r", 0, [0], "cpu").layout()
    obs = pd.DataFrame({"run_id": "r", "weight_seed": 0, "search_seed": [0, 1]}, index=["a", "b"])
    ms = MaskSet.from_dense(_random_masks(layout, 2, 0.5, seed=4), layout, obs)
    table = barriers(ms, n_points=3, progress=False, model_factory=factory, dataset_factory=lambda r: dataset)
    assert list(table["path"]) == ["linear", "swap"]
    assert table["obs_i"].tolist() == ["a", "a"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"path": "geodesic"}, "unknown path"),
        ({"split": "holdout"}, "unknown split"),
        ({"n_points": 1}, "n_points"),
        ({"pairs": [(0, 99)]}, "out of range"),
        ({"bn_batches": 0}, "bn_batches"),
        ({"split": "val", "pairs": [(0, 1)]}, None),
    ],
)
def test_argument_errors(bn_run, kwargs, match):
    ms = read_runs(bn_run)
    if match is None:  # the synthetic run has a validation split: this must work
        barriers(ms, n_points=2, progress=False, **kwargs)
        return
    with pytest.raises(AnalysisError, match=match):
        barriers(ms, progress=False, **kwargs)


def test_missing_obs_columns_are_named():
    from landscape.store.layout import Layout

    layout = Layout([("fcs.0", (2, 3))])
    ms = MaskSet.from_dense(np.ones((2, 6), bool), layout)
    with pytest.raises(AnalysisError, match="run_id"):
        barriers(ms, progress=False)


def test_conv_net_with_batchnorm_ends_match_reestimated_end_networks(tmp_path):
    cfg = _config(batchnorm="nonaffine").replace(
        **{
            "model.name": "conv2",
            "model.width_mult": 0.0625,
            "data.input_shape": [3, 8, 8],
            "data.augment": False,
        }
    )
    store = _make_run(tmp_path, cfg, n_masks=2)
    ms = read_runs(tmp_path)
    table = barriers(ms, pairs=[(1, 0)], n_points=3, bn_batches=2, batch_size=64, rng=7, progress=False)
    model = store.build_model(0, [0, 1])
    dataset = load_dataset(cfg.data)
    _paths.reestimate_batchnorm(model, dataset.train[0], _paths.bn_batches(len(dataset.train[0]), 64, 2, 7))
    loss, acc = evaluate(model, *dataset.test, batch_size=64)
    for _, row in table.iterrows():  # path from mask 1 to mask 0
        assert row["loss_start"] == pytest.approx(loss[1].item(), rel=1e-6)
        assert row["loss_end"] == pytest.approx(loss[0].item(), rel=1e-6)
        assert row["acc_start"] == acc[1].item() and row["acc_end"] == acc[0].item()
    assert ms.uns["barrier"]["params"]["bn_reestimated"]


BARRIER_DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("device", BARRIER_DEVICES)
def test_barriers_on_a_device_equal_the_cpu_within_float32_rounding(tmp_path, device):
    """Conv net with BatchNorm: both paths, BN re-estimation, on ``device`` against the CPU.

    The stated tolerance: losses within 1e-4 relative (float32 evaluation on both devices,
    TF32 off), accuracies equal up to one flipped prediction per point.
    """
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    cfg = _config(batchnorm="nonaffine").replace(
        **{
            "model.name": "conv2",
            "model.width_mult": 0.0625,
            "data.input_shape": [3, 8, 8],
            "data.augment": False,
        }
    )
    _make_run(tmp_path, cfg, n_masks=3)
    kwargs = {"pairs": [(0, 1), (2, 0)], "n_points": 4, "bn_batches": 2, "batch_size": 64, "progress": False}
    on_cpu, on_device = read_runs(tmp_path), read_runs(tmp_path)
    barriers(on_cpu, device="cpu", **kwargs)
    barriers(on_device, device=device, **kwargs)
    a, b = on_cpu.uns["barrier"]["curves"], on_device.uns["barrier"]["curves"]
    assert on_device.uns["barrier"]["params"]["device"] == device
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-4)
    n_test = len(load_dataset(cfg.data).test[1])
    assert np.abs(b["acc"].to_numpy() - a["acc"].to_numpy()).max() <= 1 / n_test + 1e-12
    if device == "cpu":  # the same device twice: exactly the same numbers
        pd.testing.assert_frame_equal(a, b)


def test_masks_of_some_layers_are_refused_in_one_line_not_a_key_error(tmp_path):
    """After ``pp.layers`` the masks cover one layer of a network of three: barriers (and
    CKA, through the same network access) failed with a bare ``KeyError: 'fcs.0'``."""
    from landscape import pp

    store = _make_run(tmp_path, _config(batchnorm="none"), n_masks=2)
    ms = read_runs(tmp_path)
    last = ms.layout.names[-1]
    with pytest.raises(AnalysisError, match=rf"^run {store.run_id}: these masks cover layers {last} of its "):
        barriers(pp.layers(ms, last), pairs=1)
