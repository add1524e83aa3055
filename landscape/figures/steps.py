"""The analysis steps named figures rely on: present when their slot is, computed when cheap.

Loss barriers are never computed by a figure build (they need the data and a network per
pair): their figures read what ``landscape analyze --barriers N`` stored and are skipped with
the reason until then.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from landscape.figures.registry import FigureSkipped, step

BARRIERS_MISSING = (
    "no loss barriers computed: run `landscape analyze RUNS --barriers N` (or landscape.tl.barriers(ms))"
)


def _tool(name: str) -> Any:
    """``landscape.tl.<name>``, or a skip naming the tool when this installation lacks it."""
    import landscape.tl as tl

    fn = getattr(tl, name, None)
    if fn is None:
        raise FigureSkipped(f"landscape.tl.{name} is not available in this installation")
    return fn


def _distances(metric: str):
    def present(ms: Any) -> bool:
        return f"dist_{metric}" in ms.obsp and f"dist_{metric}_layers" in ms.obsp

    def compute(ms: Any) -> None:
        from landscape.tl.distances import fits_in_ram

        fits, need, free = fits_in_ram(len(ms), len(ms.layout), 1, True)
        if not fits:  # figures hold their matrices in memory, whatever analyze kept on disk
            raise FigureSkipped(
                f"the {metric} distances of {len(ms):,} masks need {need / 1e9:.1f} GB in memory, more "
                f"than the {free / 1e9:.1f} GB of RAM available: draw fewer masks (--where)"
            )
        _tool("distances")(ms, metric=metric, per_layer=True)

    return present, compute


for _metric in ("jaccard", "hamming"):
    _present, _compute = _distances(_metric)
    step(f"distances:{_metric}", _present, _compute, f"no {_metric} distances")
step("distances", *_distances("jaccard"), "no jaccard distances")


def _embedding(basis: str):
    def present(ms: Any) -> bool:
        return f"X_{basis}" in ms.obsm

    def compute(ms: Any) -> None:
        if len(ms) < 4:
            raise FigureSkipped(f"{len(ms)} masks: an embedding needs at least 4")
        # t-SNE and UMAP are random: a fixed seed makes the figure rebuildable
        kwargs = {"rng": 0} if basis in ("tsne", "umap") else {}
        _tool(basis)(ms, **kwargs)

    return present, compute


for _basis in ("pca", "mds", "tsne", "umap"):
    step(_basis, *_embedding(_basis), f"no {_basis} embedding")


def _mds_networks(ms: Any) -> None:
    """Classical MDS of each network's masks on their own (``obsm["X_mds_networks"]``; see
    :func:`landscape.tl.embed.per_network`)."""
    from landscape.networks import within_column
    from landscape.tl.embed import per_network

    mds = _tool("mds")

    def one(part: Any) -> tuple[Any, dict]:
        mds(part)
        return part.obsm["X_mds"], part.uns["mds"]

    coords, shares, _ = per_network(ms, one, min_masks=3)
    if coords is None:
        raise FigureSkipped("no network holds 3 masks: an embedding of one network's masks needs at least 3")
    ms.obsm["X_mds_networks"] = coords
    ratios = shares.get("eigenvalue_ratio", {})
    ms.uns["mds_networks"] = {
        "params": {"method": "mds", "metric": "jaccard", "n_components": 2, "within": within_column(ms.obs)},
        "eigenvalue_ratio": {net: [float(r) for r in ratio] for net, ratio in ratios.items()},
    }


step("mds_networks", lambda ms: "X_mds_networks" in ms.obsm, _mds_networks, "no per-network mds embedding")


def _barriers_present(ms: Any) -> bool:
    slot = ms.uns.get("barrier")
    return (
        isinstance(slot, dict) and isinstance(slot.get("curves"), pd.DataFrame) and not slot["curves"].empty
    )


step("barriers", _barriers_present, None, BARRIERS_MISSING)


def _slot_step(name: str, tool: str, **kwargs: Any) -> None:
    """A step whose result is ``uns[name]``, computed by ``tl.<tool>(ms, **kwargs)``."""

    def compute(ms: Any) -> None:
        _tool(tool)(ms, **kwargs)

    step(name, lambda ms: isinstance(ms.uns.get(name), dict), compute, f"no {name}")


_slot_step("consensus", "consensus")
# jaccard similarity per configuration and network, with intervals over masks and networks
_slot_step("diversity", "diversity", metric="jaccard")
_slot_step("cross_method", "cross_method", metric="jaccard")
_slot_step("typicality", "typicality", metric="jaccard")
