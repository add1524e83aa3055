"""A small MaskSet with hand-computed slots, shared by the plotting tests."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from landscape.maskset import MaskSet  # noqa: E402
from landscape.store.layout import Layout  # noqa: E402


def jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter = (a & b).sum(-1)
    union = (a | b).sum(-1)
    return 1.0 - inter / np.maximum(union, 1)


def fixed_k_masks(rng: np.random.Generator, n: int, layout: Layout, density: float) -> np.ndarray:
    """Masks keeping exactly round(density * numel) weights per layer (as Edge-Popup does)."""
    parts = []
    for spec in layout:
        k = round(density * spec.numel)
        layer = np.zeros((n, spec.numel), dtype=bool)
        for r in range(n):
            layer[r, rng.choice(spec.numel, size=k, replace=False)] = True
        parts.append(layer)
    return np.concatenate(parts, axis=1)


def with_distances(ms: MaskSet, masks: np.ndarray) -> MaskSet:
    ms.obsp["dist_jaccard"] = jaccard(masks[:, None], masks[None])
    offsets = np.cumsum([0] + [s.numel for s in ms.layout])
    per_layer = [
        jaccard(masks[:, None, lo:hi], masks[None, :, lo:hi]) for lo, hi in zip(offsets[:-1], offsets[1:])
    ]
    ms.obsp["dist_jaccard_layers"] = np.stack(per_layer, axis=-1)
    return ms


@pytest.fixture(scope="session")
def layout() -> Layout:
    return Layout([("fc0", (16, 24)), ("fc1", (12, 16)), ("fc2", (4, 12))])


@pytest.fixture
def toy(layout: Layout) -> tuple[MaskSet, np.ndarray]:
    """5 edge_popup, 4 biprop, 3 random masks at density 0.5, with distances and an MDS."""
    rng = np.random.default_rng(0)
    n = 12
    masks = fixed_k_masks(rng, n, layout, 0.5)
    methods = ["edge_popup"] * 5 + ["biprop"] * 4 + ["random"] * 3
    seeds = list(range(5)) + list(range(4)) + list(range(3))
    obs = pd.DataFrame(
        {
            "run_id": [m[:2] for m in methods],
            "method": methods,
            "density": 0.5,
            "weight_seed": 0,
            "search_seed": seeds,
            "test_acc": np.linspace(0.6, 0.9, n),
        },
        index=[f"{m}/w0/s{s}" for m, s in zip(methods, seeds)],
    )
    ms = with_distances(MaskSet.from_dense(masks, layout, obs), masks)
    ms.obsm["X_mds"] = rng.normal(size=(n, 2))
    return ms, masks


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
