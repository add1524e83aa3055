"""Top-k routes (``methods.select``): every route keeps exactly the same weights.

The threshold is an element of the row on every route and ties go to the lowest index, so
the numpy introselect (the CPU default), ``kthvalue``, ``topk`` and a full sort give one
mask; on CUDA the same scores give the CPU's masks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from landscape.config import load_config
from landscape.search.methods import select
from landscape.search.methods.base import topk_mask
from landscape.search.runner import load_dataset
from landscape.search.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
TORCH_ROUTES = ("kthvalue", "topk", "sort")
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def _device(device: str) -> str:
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    return device


def _tied_keys(rows: int, n: int, seed: int) -> torch.Tensor:
    """Keys on a coarse grid (many ties at any threshold), with forced +-inf entries."""
    gen = torch.Generator().manual_seed(seed)
    keys = torch.randint(0, 7, (rows, n), generator=gen).float() / 7
    keys[:, :3] = torch.inf
    keys[:, 3:5] = -torch.inf
    return keys


def _reference_mask(keys: torch.Tensor, k: int) -> torch.Tensor:
    """Lowest-index rule written out: sort by (-key, index) and keep the first k."""
    out = torch.zeros_like(keys, dtype=torch.bool)
    for i, row in enumerate(keys.tolist()):
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]
        out[i, order] = True
    return out


@pytest.mark.parametrize("route", ("numpy", *TORCH_ROUTES))
@pytest.mark.parametrize("k", [1, 6, 37, 60, 99])
def test_every_route_keeps_the_lowest_index_among_ties(route, k):
    keys = _tied_keys(5, 100, seed=k)
    with select.use(route):
        got = topk_mask(keys, k)
    assert (got.sum(1) == k).all()
    assert torch.equal(got, _reference_mask(keys, k))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("route", TORCH_ROUTES)
def test_device_routes_give_the_cpu_masks_for_the_same_scores(device, route):
    device = _device(device)
    gen = torch.Generator().manual_seed(7)
    cases = [
        (_tied_keys(8, 5000, seed=1), 1234),
        (_tied_keys(3, 4096, seed=2), 4000),  # k > N/2: topk selects from the other side
        (torch.randn((4, 300_000), generator=gen).abs(), 150_000),  # one big layer
        (torch.randn((2, 300_000), generator=gen).round(decimals=2), 31),  # ties at a high rank
    ]
    for keys, k in cases:
        expected = topk_mask(keys, k)  # CPU default: numpy introselect
        with select.use(route):
            got = topk_mask(keys.to(device), k).cpu()
        assert torch.equal(got, expected), (route, tuple(keys.shape), k)


def test_numpy_route_refuses_other_devices_and_unknown_routes():
    with pytest.raises(ValueError, match="CPU tensors only"), select.use("numpy"):
        select.resolve(torch.zeros(2, 3, device="meta"))
    with pytest.raises(ValueError, match="top-k route 'heap' is unknown"):
        select.set_route("heap")
    assert select.current() == "auto"


def _search(route: str, device: str, **overrides):
    cfg = load_config(
        ROOT / "configs/digits_mlp_edge_popup.yaml",
        {"train.epochs": 2, "model.hidden": [32, 32], "method.density": 0.3, **overrides},
    )
    with select.use(route):
        return Trainer(cfg, load_dataset(cfg.data), 0, [0, 1], device, progress=False).run()


@pytest.mark.parametrize(
    "overrides", [{}, {"method.global_topk": True}, {"method.name": "iterand", "method.rerand.every": 20}]
)
def test_a_whole_search_is_the_same_on_every_route(overrides):
    """On the CPU the torch routes also switch the fused numba kernels off: the device-generic
    path (what CUDA runs) gives the CPU default's masks and curves bit for bit."""
    reference = _search("auto", "cpu", **overrides)
    for route in TORCH_ROUTES:
        got = _search(route, "cpu", **overrides)
        for layer, masks in reference.masks.items():
            np.testing.assert_array_equal(got.masks[layer], masks, err_msg=f"{route} {layer}")
        for a, b in zip(got.records, reference.records):
            assert a["curves"]["train_loss"] == b["curves"]["train_loss"], route
