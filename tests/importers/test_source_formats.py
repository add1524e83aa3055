"""Partially frozen and ER-source checkpoints (their patterns kept with the run) and plain arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from landscape.errors import ConfigError
from landscape.importers import import_masks
from landscape.store import RunStore
from tests.importers.conftest import TINY_DATA, frankle_state, stored_masks

FROZEN_NAMES = ["convs.0", "convs.2", "convs.5", "convs.7", "linears.0", "linears.2", "linears.4"]


# --- partially frozen ---------------------------------------------------------------------------
def frozen_masks_by_hand(scores, ternary, sparsity):
    """global_ep as set_kthvalue and GetSupermask compute it, in float32."""
    fmax = torch.finfo(torch.float32).max * torch.ones(1)
    keys = torch.cat([(t * fmax * fmax + s.abs()).flatten() for s, t in zip(scores, ternary)])
    k = int((keys.numel() * torch.tensor([sparsity], dtype=torch.float32)).int())
    t = torch.tensor(-1.0) if k == 0 else keys.sort().values[k - 1]
    out = []
    for s, f in zip(scores, ternary):
        m = torch.gt(s.abs(), t).float()
        m = torch.where(f == -1, torch.zeros_like(m), m)
        out.append(torch.where(f == 1, torch.ones_like(m), m))
    return out, t


def frozen_local_masks_by_hand(scores, ternary, sparsity):
    """local_ep: set_kthvalue's rule applied to each layer on its own."""
    out = [frozen_masks_by_hand([s], [f], sparsity) for s, f in zip(scores, ternary)]
    return [m[0] for m, _ in out], [t for _, t in out]


def frozen_checkpoint(path, sparsity=0.7, pruned=0.3, locked=0.1, seed=0, mask_density=None, local=False):
    """A DDP state dict of Conv-4 Supermask layers with every buffer that code keeps."""
    state = frankle_state(depth=4, width=0.125, score_key="score", fc_group="linears", fc_as_conv=False)
    g = torch.Generator().manual_seed(seed)
    names = FROZEN_NAMES
    ternary = []
    for name in names:
        n = state[f"{name}.weight"].numel()
        f = torch.zeros(n)
        perm = torch.randperm(n, generator=g)
        n_p, n_r = int(n * pruned), int(n * locked)
        f[perm[:n_p]], f[perm[n_p : n_p + n_r]] = -1, 1
        ternary.append(f.reshape(state[f"{name}.weight"].shape))
    scores = [state[f"{name}.score"] for name in names]
    density = mask_density if mask_density is not None else sparsity
    if local:
        masks, ts = frozen_local_masks_by_hand(scores, ternary, density)
    else:
        masks, t = frozen_masks_by_hand(scores, ternary, density)
        ts = [t] * len(masks)
    for name, f, m, t in zip(names, ternary, masks, ts):
        state[f"{name}.mask"] = m
        state[f"{name}.ternary_frozen_mask"] = f
        state[f"{name}.local_sparsity"] = torch.tensor([1 - float(m.mean())])
        state[f"{name}.global_sparsity"] = torch.tensor([sparsity])
        state[f"{name}.scale"] = torch.tensor([1.0])
        state[f"{name}.kthvalue"] = torch.tensor([float(t)])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"module." + k: v for k, v in state.items()}, path)
    return state, masks, ternary


def test_frozen_masks_follow_set_kthvalue_and_keep_the_pattern(tmp_path):
    path = tmp_path / "results" / "best_val_ckpt.pt"
    state, masks, ternary = frozen_checkpoint(path)
    result = import_masks([tmp_path / "results"], tmp_path / "runs", "frozen", TINY_DATA)
    summary = result.runs[0]
    store = RunStore.open(summary.path)
    cfg = store.config
    assert (cfg.method.source.kind, cfg.method.global_topk, cfg.method.density) == ("frozen", True, 0.3)
    assert cfg.method.source.pruned == pytest.approx(0.3, abs=0.005)
    assert cfg.model.name == "conv4"
    stored = stored_masks(summary.path)[(0, 0)]
    pattern = store.load_pattern(0, 0)
    toolkit = ["convs.0", "convs.1", "convs.2", "convs.3", "fcs.0", "fcs.1", "fcs.2"]
    for name, m, f in zip(toolkit, masks, ternary):
        np.testing.assert_array_equal(stored[name], m.bool().numpy())
        np.testing.assert_array_equal(pattern[name], f.numpy().astype(np.int8))
    keys = torch.cat([m.flatten() for m in masks])
    n = keys.numel()
    assert int(keys.sum()) == n - int((n * torch.tensor([0.7])).int())  # no ties: the exact count


@pytest.mark.parametrize(("local", "scope"), [(True, "layer"), (False, "global")])
def test_frozen_local_and_global_searches_import_with_their_scope(tmp_path, local, scope):
    # a frozen source is searched globally whenever its scope is "global", so local_ep must
    # say "layer" there, not only global_topk: false
    from landscape.search.methods.edge_popup import EdgePopup

    path = tmp_path / "results" / "best_val_ckpt.pt"
    _, masks, _ = frozen_checkpoint(path, local=local)
    result = import_masks([tmp_path / "results"], tmp_path / "runs", "frozen", TINY_DATA)
    store = RunStore.open(result.runs[0].path)
    cfg = store.config
    assert (cfg.method.source.scope, cfg.method.global_topk) == (scope, not local)
    assert EdgePopup(cfg).global_topk is (not local)
    stored = stored_masks(result.runs[0].path)[(0, 0)]
    toolkit = ["convs.0", "convs.1", "convs.2", "convs.3", "fcs.0", "fcs.1", "fcs.2"]
    for name, m in zip(toolkit, masks):
        np.testing.assert_array_equal(stored[name], m.bool().numpy())


def test_frozen_scope_given_by_hand_must_match_the_checkpoint(tmp_path):
    from landscape.errors import ConfigError

    path = tmp_path / "best_val_ckpt.pt"
    frozen_checkpoint(path, local=True)
    with pytest.raises(ConfigError, match=r"--set method.source.scope=global: the source says 'layer'"):
        overrides = [*TINY_DATA, "method.global_topk=false", "method.source.scope=global"]
        import_masks([path], tmp_path / "runs", "frozen", overrides)


def test_frozen_density_that_does_not_reproduce_the_stored_mask(tmp_path):
    from landscape.errors import DataError

    path = tmp_path / "best_val_ckpt.pt"
    frozen_checkpoint(path)
    with pytest.raises(
        DataError, match=r"best_val_ckpt.pt: key 'module.convs.0.mask': the stored mask keeps"
    ) as exc:
        import_masks([path], tmp_path / "runs", "frozen", [*TINY_DATA, "method.density=0.4"])
    assert "density 0.4 (global)" in str(exc.value) and "\n" not in str(exc.value)


# --- ER source ----------------------------------------------------------------------------------
def er_state(seed=0):
    """ER_SLT's SupermaskConv / SupermaskLinear (random biases) with a non-affine BN."""
    g = torch.Generator().manual_seed(seed)
    return {
        "conv1.weight": torch.randn(8, 3, 3, 3, generator=g),
        "conv1.bias": torch.randn(8, generator=g),
        "conv1.scoresWeights": torch.rand(8, 3, 3, 3, generator=g),
        "conv1.scoresBias": torch.rand(8, generator=g),
        "bn1.running_mean": torch.zeros(8),
        "bn1.running_var": torch.ones(8),
        "bn1.num_batches_tracked": torch.tensor(5),
        "linear.weight": torch.randn(10, 8, generator=g),
        "linear.bias": torch.randn(10, generator=g),
        "linear.scoresWeights": torch.rand(10, 8, generator=g),
        "linear.scoresBias": torch.rand(10, generator=g),
    }


def er_by_hand(sw, sb, inside_w, keep):
    """The int(k N) largest |score| among weights and biases inside the source (biases inside)."""
    scores = torch.cat([sw.abs().flatten(), sb.abs().flatten()])
    inside = torch.cat([inside_w.flatten().bool(), torch.ones(sb.numel(), dtype=torch.bool)])
    idx = torch.nonzero(inside).flatten()
    order = scores[idx].sort(descending=True, stable=True).indices
    mask = torch.zeros(scores.numel(), dtype=torch.bool)
    mask[idx[order[: int(keep * scores.numel())]]] = True
    return mask[: sw.numel()].reshape(sw.shape).numpy()


def er_source_file(tmp_path, state):
    g = torch.Generator().manual_seed(7)
    source = {
        n: torch.bernoulli(torch.full(state[f"{n}.weight"].shape, 0.5), generator=g)
        for n in ("conv1", "linear")
    }
    np.savez(tmp_path / "er.npz", **{k: v.numpy() for k, v in source.items()})
    return tmp_path / "er.npz"


def test_er_slt_masks_and_source_pattern(tmp_path):
    state = er_state()
    ckpt = tmp_path / "ticket_0_0.2_x.pt"
    torch.save(state, ckpt)
    pattern = er_source_file(tmp_path, state)
    source = {k: torch.from_numpy(v) for k, v in np.load(pattern).items()}
    overrides = ["method.density=0.2", "method.source.density=0.5", "origin.variant=initBias=kn-zero-bias"]
    result = import_masks([ckpt], tmp_path / "runs", "er_slt", overrides, pattern=pattern)
    store = RunStore.open(result.runs[0].path)
    assert store.config.model.name == "external" and store.config.method.source.kind == "er"
    assert store.config.origin.variant == "initBias=kn-zero-bias"
    assert store.config.train.schedule == "unknown"  # its own multistep schedule over levels
    assert any("no network to evaluate" in n and "non-zero bias" in n for n in result.notes)
    # the published forward computes no binary mask: the summary and the provenance say so
    assert any("not its published forward" in n and "no binary mask" in n for n in result.notes)
    assert (
        "as documented" in json.loads((store.path / "meta.json").read_text())["provenance"]["import"]["rule"]
    )
    stored = stored_masks(store.path)[(0, 0)]
    for name in ("conv1", "linear"):
        expected = er_by_hand(state[f"{name}.scoresWeights"], state[f"{name}.scoresBias"], source[name], 0.2)
        np.testing.assert_array_equal(stored[name], expected)
        np.testing.assert_array_equal(
            store.load_pattern(0, 0)[name], np.where(source[name].numpy() > 0, 0, -1)
        )
        assert not (stored[name] & (source[name].numpy() == 0)).any()  # never outside the source


def test_er_slt_without_its_source_mask_says_so(tmp_path):
    from landscape.errors import DataError

    torch.save(er_state(), tmp_path / "t.pt")
    with pytest.raises(
        DataError, match=r"t.pt: key 'conv1.er_mask': missing: the ER source mask .* --pattern FILE"
    ):
        import_masks(
            [tmp_path / "t.pt"],
            tmp_path / "runs",
            "er_slt",
            ["method.density=0.2", "method.source.density=0.5", "origin.variant=initBias=kn-zero-bias"],
        )


def test_er_slt_folder_takes_final_tickets_at_the_density_their_name_states(tmp_path):
    """cifar_main.py leaves ticket_<seed>_<level>.pt (earlier masks of the same search, at the
    level's density under the anneal) beside the final ticket_<seed>_<sparsity>_<init>_<scaling>.pt:
    a folder import takes the final tickets only, at the density the name states."""
    state = er_state()
    pattern = er_source_file(tmp_path, state)
    (tmp_path / "exp" / "runs-er").mkdir(parents=True)
    torch.save(state, tmp_path / "exp" / "runs-er" / "ticket_3_0.2_kn-zero-bias_False.pt")
    for level in (1, 2):
        torch.save(er_state(seed=level), tmp_path / "exp" / f"ticket_3_{level}.pt")
    result = import_masks(
        [tmp_path / "exp"], tmp_path / "runs", "er_slt", ["method.source.density=0.5"], pattern=pattern
    )
    assert len(result.runs) == 1
    store = RunStore.open(result.runs[0].path)
    assert store.config.method.density == 0.2
    masks = stored_masks(store.path)
    assert list(masks) == [(0, 0)]  # one mask: the level checkpoints were not taken
    source = dict(np.load(pattern))
    expected = er_by_hand(
        state["conv1.scoresWeights"], state["conv1.scoresBias"], torch.from_numpy(source["conv1"]), 0.2
    )
    np.testing.assert_array_equal(masks[(0, 0)]["conv1"], expected)


def test_er_slt_tickets_of_two_initialisers_never_share_a_run(tmp_path):
    """The initialiser and the scaling option are in the ticket's name only: they are recorded
    as origin.variant, so tickets of kn and signed-constant weights are two configurations."""
    state = er_state()
    pattern = er_source_file(tmp_path, state)
    (tmp_path / "er").mkdir()
    torch.save(state, tmp_path / "er" / "ticket_3_0.2_kn-zero-bias_False.pt")
    torch.save(er_state(seed=1), tmp_path / "er" / "ticket_3_0.2_signed-const-zero-bias_False.pt")
    result = import_masks(
        [tmp_path / "er"], tmp_path / "runs", "er_slt", ["method.source.density=0.5"], pattern=pattern
    )
    variants = sorted(RunStore.open(r.path).config.origin.variant for r in result.runs)
    assert variants == [
        "initBias=kn-zero-bias scaling=False",
        "initBias=signed-const-zero-bias scaling=False",
    ]


@pytest.mark.parametrize(
    ("name", "density"),
    [
        ("ticket_3_0.05_kn-zero-bias_False.pt", 0.05),
        ("ticket_3_1e-05_signed-const-with-bias_True.pt", 1e-05),  # str(1e-05)
        ("ticket_-1_0.3333333333333333_ortho-bias-special_False.pt", 1 / 3),  # --seed -1
        ("ticket_3_2.pt", None),  # a level checkpoint
        ("ticket_3_0.2_x.pt", None),  # renamed
        ("ticket_3_--_kn-zero-bias_False.pt", None),
    ],
)
def test_er_slt_density_from_the_names_cifar_main_writes(name, density):
    from landscape.importers.er_slt import final_ticket

    found = final_ticket(name)
    assert (None if found is None else found[0]) == density


def test_er_slt_density_that_contradicts_the_ticket_name_is_refused(tmp_path):
    from landscape.errors import ConfigError

    state = er_state()
    pattern = er_source_file(tmp_path, state)
    torch.save(state, tmp_path / "ticket_3_0.2_kn-zero-bias_True.pt")
    overrides = ["method.density=0.3", "method.source.density=0.5"]
    with pytest.raises(
        ConfigError, match=r"method.density=0.3: the source says 0.2 \(the file name ticket_3_0.2"
    ):
        import_masks(
            [tmp_path / "ticket_3_0.2_kn-zero-bias_True.pt"],
            tmp_path / "runs",
            "er_slt",
            overrides,
            pattern=pattern,
        )


def test_er_slt_level_checkpoint_by_path_needs_its_density_and_variant_and_says_what_it_is(tmp_path):
    """A level checkpoint's name states neither the density nor the initialiser: both must be
    given, or checkpoints of two initialisers would share a run."""
    from landscape.errors import ConfigError

    state = er_state()
    pattern = er_source_file(tmp_path, state)
    level = tmp_path / "ticket_3_2.pt"
    torch.save(state, level)
    with pytest.raises(
        ConfigError, match=r"ticket_3_2.pt: ER_SLT checkpoints do not save their target density"
    ):
        import_masks([level], tmp_path / "runs", "er_slt", ["method.source.density=0.5"], pattern=pattern)
    for variant in ([], ["origin.variant="]):  # an empty variant states nothing either
        with pytest.raises(
            ConfigError,
            match=r"ticket_3_2.pt: only a final ticket's name states .*give --set origin.variant=",
        ):
            import_masks(
                [level],
                tmp_path / "runs",
                "er_slt",
                ["method.density=0.4", "method.source.density=0.5", *variant],
                pattern=pattern,
            )
    other = tmp_path / "other" / "ticket_3_2.pt"
    other.parent.mkdir()
    torch.save(er_state(seed=1), other)
    runs = set()
    for path, init in ((level, "kn-zero-bias"), (other, "signed-const-zero-bias")):
        overrides = [
            "method.density=0.4",
            "method.source.density=0.5",
            f"origin.variant=initBias={init} scaling=False",
        ]
        result = import_masks([path], tmp_path / "runs", "er_slt", overrides, pattern=pattern)
        store = RunStore.open(result.runs[0].path)
        assert store.config.method.density == 0.4
        assert store.config.origin.variant == f"initBias={init} scaling=False"
        assert any("best checkpoint of one level" in n for n in result.notes)
        runs.add(store.path)
    assert len(runs) == 2  # two initialisers, two runs


# --- arrays --------------------------------------------------------------------------------------
def exact_masks(shapes: dict, n: int, density: float, seed=0) -> list[dict[str, np.ndarray]]:
    """Masks keeping exactly round(density * N) weights of every layer."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        masks = {}
        for name, shape in shapes.items():
            size = int(np.prod(shape))
            flat = np.zeros(size, bool)
            flat[rng.permutation(size)[: round(density * size)]] = True
            masks[name] = flat.reshape(shape)
        out.append(masks)
    return out


SHAPES = {"encoder.fc1.weight": (32, 64), "encoder.fc2.weight": (16, 32), "head.weight": (10, 16)}


def test_arrays_npz_layout_from_shapes_and_obs_from_set(tmp_path):
    import landscape as ls

    for i, masks in enumerate(exact_masks(SHAPES, 3, 0.3)):
        np.savez(tmp_path / f"mask{i}.npz", **masks)
    overrides = ["weight_seed=2", "method.name=edge_popup", "data.name=cifar10"]
    # one accuracy for three masks would give them equal accuracies and an interval of zero width
    with pytest.raises(ConfigError, match=r"^--set test_acc: one value for 3 masks, but an accuracy belongs"):
        import_masks([tmp_path], tmp_path / "runs", "arrays", [*overrides, "test_acc=0.91"])
    assert not (tmp_path / "runs").exists()
    result = import_masks(
        [tmp_path / "mask0.npz"], tmp_path / "runs", "arrays", [*overrides, "test_acc=0.91"]
    )
    result = import_masks([tmp_path], tmp_path / "runs", "arrays", overrides)  # the other two, unknown
    ms = ls.read_runs(tmp_path / "runs")
    assert ms.layout.names == ["encoder.fc1", "encoder.fc2", "head"]
    assert ms.obs["weight_seed"].tolist() == [2, 2, 2] and ms.obs["search_seed"].tolist() == [0, 1, 2]
    assert ms.obs["test_acc"].tolist()[0] == 0.91 and ms.obs["test_acc"].iloc[1:].isna().all()
    assert ms.obs["density"].tolist() == [0.3] * 3
    assert ms.obs["method"].tolist() == ["edge_popup"] * 3 and ms.obs["origin.format"].iloc[0] == "arrays"
    assert ms.obs["source_file"].str.endswith("mask0.npz").iloc[0]
    expected = exact_masks(SHAPES, 3, 0.3)
    for i in range(3):
        np.testing.assert_array_equal(ms.dense(i, layer="head").reshape(10, 16), expected[i]["head.weight"])
    assert "masks only" in result.summary()


def test_arrays_torch_prune_masks_stacked_and_renamed(tmp_path):
    masks = exact_masks({"a": (4, 5), "b": (3, 4)}, 2, 0.5)
    state = {
        f"layers.{j}.weight_mask": torch.tensor(np.stack([m[k] for m in masks]), dtype=torch.float32)
        for j, k in enumerate("ab")
    }
    state.update({f"layers.{j}.weight_orig": torch.randn(2, 3) for j in range(2)})  # as prune leaves it
    torch.save(state, tmp_path / "pruned.pt")
    result = import_masks(
        [tmp_path / "pruned.pt"],
        tmp_path / "runs",
        "arrays",
        ["weight_seed=0"],
        rename={"layers.0": "first"},
        stacked=True,
    )
    store = RunStore.open(result.runs[0].path)
    assert store.layout.names == ["first", "layers.1"] and store.config.method.density == 0.5
    assert store.config.method.name == "external"  # the arrays do not say how they were found
    stored = stored_masks(store.path)
    np.testing.assert_array_equal(stored[(0, 1)]["layers.1"], masks[1]["b"])


def test_arrays_folder_of_npy_with_reference_names_maps_onto_conv6(tmp_path):
    state = frankle_state()
    folder = tmp_path / "npy"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for key, value in state.items():
        if key.endswith(".weight"):
            np.save(folder / f"{key}.npy", rng.random(value.shape) < 0.5)
    # without weights only the user can say which network the masks are of
    with pytest.raises(ConfigError, match=r"npy: masks without weights do not say which random network"):
        import_masks([folder], tmp_path / "runs", "arrays", ["method.density=0.5"])
    assert not (tmp_path / "runs").exists()
    result = import_masks([folder], tmp_path / "runs", "arrays", ["method.density=0.5", "weight_seed=0"])
    store = RunStore.open(result.runs[0].path)
    assert store.config.model.name == "conv6" and store.config.model.width_mult == 0.0625
    assert store.layout.names == [*(f"convs.{j}" for j in range(6)), "fcs.0", "fcs.1", "fcs.2"]
    stored = stored_masks(store.path)[(0, 0)]
    np.testing.assert_array_equal(stored["fcs.0"], np.load(folder / "linear.0.weight.npy").reshape(16, 256))
