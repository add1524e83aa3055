"""A batched search of M masks reproduces M one-mask searches bit for bit (CPU, digits).

Mask ``i`` of a batched model draws its scores, data order and augmentation from its own
``search_seed`` streams, each mask's loss is its own term of a summed objective, and every
batched op (``bmm`` over per-mask weight slices, per-row ``kthvalue``, elementwise SGD)
runs the same arithmetic per mask as at M = 1; so the masks, and every metric, are equal.
"""

from __future__ import annotations

import numpy as np
import pytest

from landscape.config import load_config
from landscape.search.runner import load_dataset
from landscape.search.trainer import Trainer

BASE = "configs/digits_mlp_edge_popup.yaml"


@pytest.fixture(autouse=True)
def one_thread():
    # tiny matmuls: one thread is as fast, and immune to oversubscribed CI machines
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _cfg(method: str, epochs: int):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    init = {"model.weight_init": "kaiming_normal", "model.scale_fan": True} if method == "biprop" else {}
    return load_config(
        root / BASE,
        {
            "method.name": method,
            "train.epochs": epochs,
            "model.hidden": [64, 64],
            "method.density": 0.3,
            **init,
        },
    )


@pytest.mark.parametrize(("method", "epochs", "n_masks"), [("edge_popup", 3, 8), ("biprop", 2, 4)])
def test_batched_masks_equal_sequential_masks(method, epochs, n_masks):
    cfg = _cfg(method, epochs)
    dataset = load_dataset(cfg.data)
    seeds = list(range(n_masks))
    batched = Trainer(cfg, dataset, 0, seeds, progress=False).run()
    singles = [Trainer(cfg, dataset, 0, [s], progress=False).run() for s in seeds]

    for i, single in enumerate(singles):
        for layer, masks in batched.masks.items():
            differing = int(np.count_nonzero(masks[i] != single.masks[layer][0]))
            assert differing == 0, f"search seed {i}, layer {layer}: {differing} bits differ"
        b, s = batched.records[i], single.records[0]
        assert b["search_seed"] == s["search_seed"] == seeds[i]
        assert b["n_kept"] == s["n_kept"]
        for key in ("train_loss", "train_acc", "val_acc", "test_acc"):
            assert b["curves"][key] == s["curves"][key], f"seed {i}: {key} curves differ"
    # the masks are not all the same mask: the seeds really give different searches
    first = batched.masks[next(iter(batched.masks))]
    assert any(not np.array_equal(first[0], first[i]) for i in range(1, n_masks))
    assert all(r["test_acc"] > 0.5 for r in batched.records)


def test_batched_cnn1d_on_mnist1d_equals_one_mask_searches(tmp_path):
    """The 1-D CNN (grouped conv1d over masks) on MNIST-1D signals: M = 4 batched gives the
    masks and curves of four one-mask searches."""
    pytest.importorskip("mnist1d")
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(
        root / "configs" / "mnist1d_cnn1d_edge_popup.yaml",
        {
            "data.root": str(tmp_path),
            "data.mnist1d.num_samples": 600,  # the reference generator, a smaller set: fast
            "train.epochs": 2,
            "method.density": 0.3,
        },
    )
    dataset = load_dataset(cfg.data)
    assert dataset.name == "mnist1d" and dataset.input_shape == (1, 40)
    seeds = [0, 1, 2, 3]
    batched = Trainer(cfg, dataset, 0, seeds, progress=False).run()
    for i, seed in enumerate(seeds):
        single = Trainer(cfg, dataset, 0, [seed], progress=False).run()
        for layer, masks in batched.masks.items():
            differing = int(np.count_nonzero(masks[i] != single.masks[layer][0]))
            assert differing == 0, f"search seed {seed}, layer {layer}: {differing} bits differ"
        for key in ("train_loss", "train_acc", "val_acc", "test_acc"):
            assert batched.records[i]["curves"][key] == single.records[0]["curves"][key], key
    first = batched.masks["convs.0"]
    assert any(not np.array_equal(first[0], first[i]) for i in range(1, 4))


@pytest.mark.gpu
@pytest.mark.parametrize("model", ["mlp", "conv4"])
def test_batched_masks_match_sequential_masks_on_cuda(model):
    """On CUDA the batched kernels (batched GEMM, grouped convolution) may pick other algorithms
    than the one-mask ones, so rounding can differ. The documented tolerance, fp32 (TF32 off):
    after the first step every mask's scores agree with its one-mask search within 1e-5
    relative; after a short search at least 99% of each layer's kept weights agree, kept
    counts are exact and test accuracies are within 0.05."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    extra = {}
    if model == "conv4":
        extra = {"model.name": "conv4", "model.width_mult": 0.25, "data.name": "synthetic",
                 "data.input_shape": [3, 16, 16], "data.n_train": 320, "data.n_test": 128}  # fmt: skip
    cfg = _cfg("edge_popup", 3).replace(**extra)
    dataset = load_dataset(cfg.data)
    seeds = [0, 1, 2, 3]

    first = {"batched": _first_step_scores(cfg, dataset, seeds)}
    for s in seeds:
        first[s] = _first_step_scores(cfg, dataset, [s])
    for i, s in enumerate(seeds):
        for name, scores in first[s].items():
            torch.testing.assert_close(first["batched"][name][i : i + 1], scores, rtol=1e-5, atol=1e-7)

    batched = Trainer(cfg, dataset, 0, seeds, "cuda", progress=False).run()
    for i, s in enumerate(seeds):
        single = Trainer(cfg, dataset, 0, [s], "cuda", progress=False).run()
        for layer, masks in batched.masks.items():
            a, b = masks[i], single.masks[layer][0]
            assert a.sum() == b.sum()
            agree = np.count_nonzero(a & b) / max(1, np.count_nonzero(b))
            assert agree >= 0.99, f"seed {s}, {layer}: {agree:.4f} of the kept weights agree"
        assert abs(batched.records[i]["test_acc"] - single.records[0]["test_acc"]) <= 0.05


def _first_step_scores(cfg, dataset, seeds, device="cuda"):
    """Scores after the first optimiser step (the masks are still the initial ones)."""
    import torch

    from landscape.search.precision import training_kernels

    trainer = Trainer(cfg, dataset, 0, seeds, device, progress=False)
    idx = trainer._epoch_order(0)[:, : cfg.train.batch_size]
    zeros = torch.zeros(len(seeds), dtype=torch.float64, device=device)
    with training_kernels("fp32"):
        trainer._step(trainer.train_x[idx], trainer.train_y[idx], zeros, zeros.clone())
    return {n: layer.scores.detach().cpu() for n, layer in trainer.model.masked_layers()}
