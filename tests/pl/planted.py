"""Masks with a planted overlap, whose expected similarities are known in closed form.

In a layer of ``n`` weights every mask of one (configuration, network) keeps the same ``s``
weights (the network's core) plus ``k - s`` drawn uniformly from the other ``n - s``; two such
masks share ``s + (k - s)^2 / (n - s)`` weights on average. With ``s = 0`` they are
independent random masks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.maskset import MaskSet
from landscape.store.layout import Layout


def expected_jaccard(n: int, k: int, s: int, layers: int = 1) -> float:
    """Expected whole-network Jaccard similarity of two planted masks (``layers`` equal layers;
    the ratio of the expected counts, exact to O(1/n))."""
    inter = s + (k - s) ** 2 / (n - s)
    return layers * inter / (layers * (2 * k - inter))


def planted_layer(rng, n: int, k: int, core: np.ndarray, twin: np.ndarray | None = None) -> np.ndarray:
    keep = np.zeros(n, dtype=bool)
    keep[core] = True
    if twin is not None:
        keep[twin] = True
    rest = np.flatnonzero(~keep)
    keep[rng.choice(rest, size=k - int(keep.sum()), replace=False)] = True
    return keep


def planted_set(
    groups: list[dict],
    layer_sizes=(1200, 800),
    networks=(0, 1),
    seeds=range(5),
    rng: int = 0,
) -> MaskSet:
    """One MaskSet; each entry of ``groups`` is a configuration: ``method, density, share``
    (the core's fraction of the kept weights), optional ``width`` and ``run_id``."""
    gen = np.random.default_rng(rng)
    layout = Layout([(f"fcs.{i}", (n // 40, 40)) for i, n in enumerate(layer_sizes)])
    rows, masks = [], []
    for g in groups:
        width = g.get("width", 1.0)
        run = g.get("run_id", f"{g['method']}-{g['density']}-{width}")
        for w in networks:
            cores = []
            for li, spec in enumerate(layout):
                k = round(g["density"] * spec.numel)
                core_rng = np.random.default_rng([w, li, round(1000 * g["density"]), g.get("core_salt", 0)])
                cores.append(core_rng.choice(spec.numel, size=round(g["share"] * k), replace=False))
            for s in seeds:
                parts = []
                for li, spec in enumerate(layout):
                    k = round(g["density"] * spec.numel)
                    parts.append(planted_layer(gen, spec.numel, k, cores[li]))
                masks.append(np.concatenate(parts))
                rows.append(
                    {
                        "run_id": run,
                        "method": g["method"],
                        "density": g["density"],
                        "model.width_mult": width,
                        "weight_seed": w,
                        "search_seed": s,
                        "test_acc": g.get("acc", 0.5) + 0.01 * s,
                    }
                )
    obs = pd.DataFrame(rows, index=[f"{r['run_id']}/w{r['weight_seed']}/s{r['search_seed']}" for r in rows])
    return MaskSet.from_dense(np.array(masks), layout, obs)


# twins across methods ----------------------------------------------------------------------

N, K, T = 2000, 1000, 400  # weights per layer, kept, shared by the twins of one seed


def twins(seeds_a=range(5), seeds_b=range(5), networks=(0, 1), extra_density=False) -> MaskSet:
    """Edge-Popup and Biprop masks at density 0.5 whose masks of one search seed share ``T``
    weights per layer (twins); otherwise uniformly random. ``extra_density`` adds a Biprop
    run at density 0.25 without twins."""
    layout = Layout([("fcs.0", (40, 50)), ("fcs.1", (50, 40))])
    rng = np.random.default_rng(1)
    rows, masks = [], []
    plan = [("edge_popup", seeds_a, K), ("biprop", seeds_b, K)]
    if extra_density:
        plan.append(("biprop", seeds_b, K // 2))
    for method, seeds, k in plan:
        for w in networks:
            for s in seeds:
                parts = []
                for li in range(len(layout)):
                    twin = np.random.default_rng([w, s, li]).choice(N, size=T if k == K else 0, replace=False)
                    keep = np.zeros(N, dtype=bool)
                    keep[twin] = True
                    keep[rng.choice(np.flatnonzero(~keep), size=k - len(twin), replace=False)] = True
                    parts.append(keep)
                masks.append(np.concatenate(parts))
                rows.append({"run_id": f"{method}{k}", "method": method, "density": k / N, "weight_seed": w,
                             "search_seed": s})  # fmt: skip
    obs = pd.DataFrame(rows, index=[f"{r['run_id']}/w{r['weight_seed']}/s{r['search_seed']}" for r in rows])
    ms = MaskSet.from_dense(np.array(masks), layout, obs)
    from landscape import tl

    tl.distances(ms)
    return ms


def twins_jaccard(shared: float) -> float:
    """Expected Jaccard similarity of two masks of :func:`twins` sharing ``shared`` weights."""
    inter = shared + (K - shared) ** 2 / (N - shared)
    return inter / (2 * K - inter)
