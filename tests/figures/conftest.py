"""Fixtures for the figure registry: an annotated in-memory MaskSet and a small runs root."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from landscape.maskset import MaskSet  # noqa: E402
from landscape.store.layout import Layout  # noqa: E402

LAYOUT = Layout([("fcs.0", (12, 16)), ("fcs.1", (6, 12)), ("fcs.2", (3, 6))])


def fixed_k(rng: np.random.Generator, n: int, layout: Layout, density: float) -> np.ndarray:
    parts = []
    for spec in layout:
        layer = np.zeros((n, spec.numel), dtype=bool)
        for r in range(n):
            layer[r, rng.choice(spec.numel, size=round(density * spec.numel), replace=False)] = True
        parts.append(layer)
    return np.concatenate(parts, axis=1)


def jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 1.0 - (a & b).sum(-1) / np.maximum((a | b).sum(-1), 1)


def annotate_distances(ms: MaskSet, masks: np.ndarray) -> None:
    ms.obsp["dist_jaccard"] = jaccard(masks[:, None], masks[None])
    offsets = np.cumsum([0] + [s.numel for s in ms.layout])
    ms.obsp["dist_jaccard_layers"] = np.stack(
        [jaccard(masks[:, None, lo:hi], masks[None, :, lo:hi]) for lo, hi in zip(offsets[:-1], offsets[1:])],
        -1,
    )


GROUPS = [  # method, density, width, masks
    ("edge_popup", 0.5, 1.0, 5),
    ("biprop", 0.5, 1.0, 4),
    ("random", 0.5, 1.0, 3),
    ("edge_popup", 0.2, 1.0, 3),
    ("edge_popup", 0.5, 0.5, 2),
    ("dense", 1.0, 1.0, 2),
    ("dense", 1.0, 0.5, 2),
]


@pytest.fixture
def annotated() -> MaskSet:
    """Masks of several methods, densities and widths, with Jaccard distances stored."""
    rng = np.random.default_rng(3)
    parts, rows = [], []
    for method, density, width, n in GROUPS:
        parts.append(fixed_k(rng, n, LAYOUT, density if method != "dense" else 1.0))
        run = f"{method}-{density}-{width}"
        for s in range(n):
            rows.append(
                {
                    "run_id": run,
                    "method": method,
                    "density": density,
                    "model.width_mult": width,
                    "weight_seed": 0,
                    "search_seed": s,
                    "test_acc": 0.5 + 0.4 * density + 0.01 * s,
                    "name": f"{run}/w0/s{s}",
                }
            )
    masks = np.concatenate(parts)
    obs = pd.DataFrame(rows).set_index("name")
    ms = MaskSet.from_dense(masks, LAYOUT, obs)
    annotate_distances(ms, masks)
    return ms


def add_barriers(ms: MaskSet, pairs: list[tuple[int, int]]) -> None:
    """A barrier slot shaped like the one landscape.tl.barriers writes."""
    names = ms.obs.index.astype(str)
    curves, table = [], []
    matrix = np.full((len(ms), len(ms)), np.nan)
    for pair, (i, j) in enumerate(pairs):
        for alpha in np.linspace(0, 1, 5):
            curves.append(
                {
                    "pair": pair,
                    "i": i,
                    "j": j,
                    "path": "linear",
                    "alpha": alpha,
                    "split": "test",
                    "loss": 0.5 + np.sin(np.pi * alpha),
                    "acc": 0.9 - 0.2 * np.sin(np.pi * alpha),
                }
            )
        table.append(
            {
                "pair": pair,
                "i": i,
                "j": j,
                "obs_i": names[i],
                "obs_j": names[j],
                "path": "linear",
                "split": "test",
                "barrier_loss": 1.0,
                "barrier_acc": 0.2,
                "hamming": 0.5,
            }
        )
        matrix[i, j] = matrix[j, i] = 1.0
    ms.uns["barrier"] = {
        "params": {"split": "test", "n_points": 5},
        "curves": pd.DataFrame(curves),
        "table": pd.DataFrame(table),
    }
    ms.obsp["barrier"] = matrix


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
