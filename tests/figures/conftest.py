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

# figures of masks during their search and of held seeds: drawn only from runs that kept
# snapshots or held one seed (tests/figures/test_dynamics_figures.py), skipped elsewhere
DYNAMICS = {"similarity_over_training", "bits_flipped", "seed_attribution"}

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


# a runs root shaped like a paper's: two methods x three densities x two widths x two networks --

PAPER_METHODS = {
    "edge_popup": [],
    "biprop": ["method.name=biprop", "model.weight_init=kaiming_normal", "model.scale_fan=true"],
}
PAPER_DENSITIES = (0.1, 0.3, 0.5)
PAPER_WIDTHS = (0.5, 1.0)
PAPER_NETWORKS = (0, 1)
PAPER_SEEDS = (0, 1, 2)
PAPER_TINY = ["model.hidden=[16, 16]", "train.epochs=2", "train.batch_size=128"]


def planted_rows(layout: Layout, density: float, network: int, seed: int, method: str) -> np.ndarray:
    """One mask per layer's top-k of a score shared by the network (masks of one network
    overlap more than chance), by the search seed (masks of two methods from one seed are
    twins) and noise of the method."""
    parts = []
    for k, spec in enumerate(layout):
        shared = np.random.default_rng([network, k]).normal(size=spec.numel)
        twin = np.random.default_rng([network, seed, k, 7]).normal(size=spec.numel)
        noise = np.random.default_rng([network, seed, k, len(method)]).normal(size=spec.numel)
        score = 0.6 * shared + 1.0 * twin + 1.0 * noise
        keep = np.zeros(spec.numel, dtype=bool)
        keep[np.argsort(-score, kind="stable")[: max(1, round(density * spec.numel))]] = True
        parts.append(keep)
    return np.concatenate(parts)


def make_paper_runs(root, methods=PAPER_METHODS, densities=PAPER_DENSITIES, widths=PAPER_WIDTHS, extra=()):
    """Real run stores of the tiny digits MLP (configs and layouts as a search writes them)
    holding planted masks; accuracies rise with density and with the shared score."""
    from landscape.config import load_config
    from landscape.search.runner import open_run
    from landscape.store.packing import pack_flat

    for method, overrides in methods.items():
        for density in densities:
            for width in widths:
                sets = [f"method.density={density}", f"model.width_mult={width}"]
                cfg = load_config(
                    "configs/digits_mlp_edge_popup.yaml", [*PAPER_TINY, *overrides, *sets, *extra]
                )
                store = open_run(cfg, root)
                pairs = [(w, s) for w in PAPER_NETWORKS for s in PAPER_SEEDS]
                store.add_plan(pairs)
                masks = np.stack([planted_rows(store.layout, density, w, s, method) for w, s in pairs])
                records = [
                    {
                        "weight_seed": w,
                        "search_seed": s,
                        "test_acc": 0.5 + 0.4 * density + 0.02 * s + 0.01 * w,
                    }
                    for w, s in pairs
                ]
                store.write_masks(pack_flat(masks, store.layout), records)
    return root


@pytest.fixture(scope="session")
def paper_runs(tmp_path_factory):
    """The paper-shaped runs root with every mask's predictions (re-evaluated from the stored
    masks, as for runs searched before predictions were kept), analysed once with one barrier
    pair per run and network."""
    from landscape.analysis import analyze
    from landscape.search.predict import fill_predictions

    root = make_paper_runs(tmp_path_factory.mktemp("paper"))
    assert sum(s.evaluated for s in fill_predictions(root, progress=False)) == 72
    analyze(root, barriers=1, barrier_points=3, embed=("mds",), progress=False)
    return root
