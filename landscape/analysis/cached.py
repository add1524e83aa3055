"""Analysis steps that read and fill the result store: distances, embeddings, barrier views.

Each result is keyed by the masks it used (content hashes) and its parameters, so a later
analysis of the same masks, or of a subset of them, reuses it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from landscape.store.results import ResultStore, mask_hashes
from landscape.tl._paths import curve_barriers

BARRIER = "barrier_curve"


def mask_ids(ms) -> list[str]:
    """A key per mask: its label, the network it lives in and the content hash of its bits.

    Kept in ``uns["_mask_ids"]``; reused only while it names the masks of ``ms`` in their
    order (a set reordered or relabelled since gets new keys, never another mask's)."""
    if not _ids_follow_rows(ms.uns.get("_mask_ids"), ms.obs.index):
        hashes = mask_hashes(ms.rows())
        ms.uns["_mask_ids"] = [f"{label}@{h}" for label, h in zip(ms.obs.index.astype(str), hashes)]
    return ms.uns["_mask_ids"]


def _ids_follow_rows(ids, labels: pd.Index) -> bool:
    if not isinstance(ids, list) or len(ids) != len(labels):
        return False
    return all(i.rpartition("@")[0] == label for i, label in zip(ids, labels.astype(str)))


def distances(ms, metrics, store: ResultStore, recompute: bool = False, **kwargs: Any) -> str:
    """``tl.distances(ms, per_layer=True)`` from stored per-layer intersection counts when
    an entry holds these masks (or a superset of them); else computed and stored.

    Under a ``memory`` budget a stored entry is read only when the slots it fills fit the
    budget's share for results; otherwise the distances come from the resumable tiles, and
    results too large for memory (memory-mapped) are not copied into the store.

    Returns ``"reused"`` or ``"computed"``.
    """
    from landscape import tl
    from landscape.tl.distances import fill_from_counts, fits_in_ram, in_memory_bytes

    ids = mask_ids(ms)
    inputs = {"masks": ids, "layout": ms.layout.dumps()}
    key = ResultStore.key("intersections", inputs)
    held = _held_in_memory(kwargs.get("memory"))
    # reused slots are held in memory whole: under a budget, only while they fit its share
    # for results (else the tiles, kept beside the store, give them within the budget)
    if held is None:  # in memory: a stored entry is read whole only where it fits the RAM
        fits = fits_in_ram(len(ids), len(ms.layout), len(metrics), True)[0]
    else:
        fits = in_memory_bytes(len(ids), len(ms.layout), len(metrics), True) <= held
    if not recompute and fits:
        layers = _stored_intersections(
            store, key, ids, ms.layout.dumps(), recomputed=True, held=held, n_layers=len(ms.layout)
        )
        if layers is not None:
            fill_from_counts(ms, layers, metrics, per_layer=True, origin="analysis result store")
            return "reused"
    elif recompute and kwargs.get("tiles") is not None:  # every tile again, not the stored ones merged
        from landscape.tl._outofcore import discard_tile_job

        discard_tile_job(ms, kwargs["tiles"])
    tl.distances(ms, metric=tuple(metrics), per_layer=True, **kwargs)
    counts = ms.obsp["intersection_layers"]
    if isinstance(counts, np.memmap):  # beyond the budget: storing would copy it into memory
        return "computed"
    dtype = np.int32 if counts.size and counts.max() < 2**31 else np.int64
    store.put(
        "intersections", key, inputs, {"n_masks": len(ids)}, {"intersection_layers": counts.astype(dtype)}
    )
    return "computed"


def stored_distances(ms, metrics, store: ResultStore) -> bool:
    """Fill ``ms``'s distance slots from the store when an entry holds these masks (or a
    superset); never computes. Returns whether they were found."""
    from landscape.ram import available_ram
    from landscape.tl.distances import fill_from_counts, fits_in_ram

    if not fits_in_ram(len(ms), len(ms.layout), len(metrics), True)[0]:
        return False  # read whole, they would not fit: the figures that need them say so
    ids = mask_ids(ms)
    key = ResultStore.key("intersections", {"masks": ids, "layout": ms.layout.dumps()})
    layers = _stored_intersections(
        store, key, ids, ms.layout.dumps(), recomputed=False, held=available_ram(), n_layers=len(ms.layout)
    )
    if layers is None:
        return False
    fill_from_counts(ms, layers, metrics, per_layer=True, origin="analysis result store")
    return True


def _held_in_memory(memory) -> int | None:
    """Bytes of result matrices a ``memory`` budget holds in memory (None: no budget)."""
    if memory is None:
        return None
    from landscape.tl._outofcore import OUTPUT_SHARE
    from landscape.tl._tiles import parse_memory

    return int(parse_memory(memory) * OUTPUT_SHARE)


def _stored_intersections(
    store: ResultStore,
    key: str,
    ids: list[str],
    layout: str,
    recomputed: bool,
    held: int | None = None,
    n_layers: int = 1,
) -> np.ndarray | None:
    """Stored counts of ``ids`` (an entry of exactly these masks, or a superset's), or None;
    ``recomputed``: whether the caller computes them when none are (a damaged entry says so);
    ``held``: a superset is read whole, so under a budget only one that fits it is."""
    arrays = store.get_arrays("intersections", key, recomputed)
    if arrays is not None:
        return arrays["intersection_layers"].astype(np.int64)
    wanted = set(ids)
    for other, record in store.records("intersections"):  # a superset: an earlier, wider analysis
        held_masks = record["inputs"].get("masks", [])
        if record["inputs"].get("layout") != layout or not wanted <= set(held_masks):
            continue
        if held is not None and 12 * len(held_masks) ** 2 * n_layers > held:  # int32 + int64 copy
            continue
        arrays = store.get_arrays("intersections", other, recomputed=False)  # only a candidate
        if arrays is None:
            continue
        where = {mask: k for k, mask in enumerate(held_masks)}
        pos = np.array([where[m] for m in ids])
        return arrays["intersection_layers"][np.ix_(pos, pos)].astype(np.int64)
    return None


def embedding(ms, method: str, metric: str, rng: int, store: ResultStore, recompute: bool = False) -> str:
    """``tl.embed`` with the coordinates kept in the store (t-SNE and UMAP are slow and random)."""
    from landscape import tl

    inputs = {"masks": mask_ids(ms), "method": method, "metric": metric, "rng": int(rng)}
    key = ResultStore.key("embedding", inputs)
    arrays = None if recompute else store.get_arrays("embedding", key)
    if arrays is not None:
        record = store.get("embedding", key)
        ms.obsm[f"X_{method}"] = arrays["coords"]
        ms.uns[method] = {"params": record["payload"]["params"], **_extra(arrays)}
        return "reused"
    tl.embed(ms, method=method, metric=metric, rng=rng)
    slot = ms.uns.get(method, {})
    extra = {f"uns_{k}": np.asarray(v) for k, v in slot.items() if k != "params" and _is_array(v)}
    store.put(
        "embedding",
        key,
        inputs,
        {"params": slot.get("params", {})},
        {"coords": np.asarray(ms.obsm[f"X_{method}"]), **extra},
    )
    return "computed"


def embedding_per_network(
    ms, method: str, metric: str, rng: int, store: ResultStore, recompute: bool = False
) -> dict[str, int]:
    """:func:`embedding` of each network's masks on their own, into ``ms.obsm["X_<method>"]``.

    Masks of different random networks share no weights: their distances sit at chance, and
    one embedding of all of them would be split by network. With several networks each one
    is embedded alone (its coordinates are not comparable with another's; a network of fewer
    than 3 masks gets none: NaN), and ``uns[<method>]["params"]["within"]`` says so (the
    plots then draw a panel per network). Returns how many embeddings were computed and reused.
    """
    from landscape.networks import network_values, within_column
    from landscape.tl.embed import per_network

    work = {"computed": 0, "reused": 0}
    if len(dict.fromkeys(network_values(ms.obs))) == 1:
        if len(ms) >= 3:
            work[embedding(ms, method, metric, rng, store, recompute)] += 1
        return work

    def one(part) -> tuple[np.ndarray, dict]:
        work[embedding(part, method, metric, rng, store, recompute)] += 1
        return part.obsm[f"X_{method}"], part.uns.get(method, {})

    coords, shares, params = per_network(ms, one, min_masks=3)
    if coords is not None:
        ms.obsm[f"X_{method}"] = coords
        ms.uns[method] = {"params": {**params, "within": within_column(ms.obs)}, **shares}
    return work


def _is_array(value: Any) -> bool:
    return isinstance(value, (np.ndarray, list, float, int)) and not isinstance(value, bool)


def _extra(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k[4:]: v for k, v in arrays.items() if k.startswith("uns_")}


# barrier views ---------------------------------------------------------------------------------


def barrier_view(ms, store: ResultStore) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Every stored barrier curve between two masks of ``ms`` (same bits, same network), as
    the ``table`` and ``curves`` of :func:`landscape.tl.barriers` with the setting of each
    curve in columns (``path, split, n_points, bn_batches, batch_size, seed``)."""
    names = ms.obs.index.astype(str)
    ids = dict(zip(names, mask_ids(ms)))
    position = {name: k for k, name in enumerate(names)}
    rows, curves = [], []
    for _, record in store.records(BARRIER):
        inputs, payload = record["inputs"], record["payload"]
        a, b = inputs["a"], inputs["b"]
        if (
            ids.get(a["label"]) != f"{a['label']}@{a['bits']}"
            or ids.get(b["label"]) != f"{b['label']}@{b['bits']}"
        ):
            continue
        i, j = position[a["label"]], position[b["label"]]
        alphas = np.asarray(inputs["alphas"], dtype=float)
        loss, acc = np.asarray(payload["loss"], float), np.asarray(payload["acc"], float)
        setting = {
            "path": inputs["path"],
            "split": inputs["split"],
            "n_points": len(alphas),
            "bn_batches": inputs["bn_batches"],
            "batch_size": inputs["batch_size"],
            "seed": inputs["seed"],
        }
        pair = len(rows)
        rows.append(
            {"pair": pair, "i": i, "j": j, "obs_i": a["label"], "obs_j": b["label"], **setting}
            | curve_barriers(alphas, loss, acc)
            | {"hamming": payload["hamming"], "jaccard": payload["jaccard"], "device": payload.get("device")}
        )
        curves.append(
            pd.DataFrame(
                {
                    "pair": pair,
                    "i": i,
                    "j": j,
                    "obs_i": a["label"],
                    "obs_j": b["label"],
                    **setting,
                    "alpha": alphas,
                    "loss": loss,
                    "acc": acc,
                }
            )  # fmt: skip
        )
    if not rows:
        return None
    table = pd.DataFrame(rows).sort_values(["split", "n_points", "path", "i", "j"], kind="stable")
    curves = pd.concat(curves, ignore_index=True)
    return table.reset_index(drop=True), curves


def attach_barriers(ms, store: ResultStore) -> bool:
    """Put the stored barriers between masks of ``ms`` on it (``uns["barrier"]`` with
    ``table`` and ``curves``, and ``obsp["barrier"]``), as the figures read them.

    One measurement per pair: curves of one pair stored under several seeds are averaged
    (``n_curves``). When curves of several settings exist (another split, alpha grid or
    BatchNorm re-estimation), the one with most pairs is attached; ties go to the test split,
    then the finer grid. Returns False when the store holds no barrier between these masks.
    """
    from landscape.analysis.barrier_pairs import per_pair, per_pair_curves

    view = barrier_view(ms, store)
    if view is None:
        return False
    table, curves = per_pair(view[0]), per_pair_curves(view[1])
    setting = ["split", "n_points", "bn_batches", "batch_size"]
    counts = table.groupby(setting, dropna=False).size().reset_index(name="n")
    counts["test"] = counts["split"] == "test"
    best = counts.sort_values(["n", "test", "n_points"], ascending=False, kind="stable").iloc[0]
    table = table[_matches(table, best, setting)].reset_index(drop=True)
    curves = curves[_matches(curves, best, setting)].reset_index(drop=True)
    first_path = "linear" if (table["path"] == "linear").any() else table["path"].iloc[0]
    first = table[table["path"] == first_path]
    matrix = np.full((len(ms), len(ms)), np.nan)
    matrix[first["i"], first["j"]] = matrix[first["j"], first["i"]] = first["barrier_loss"]
    params = {
        "path": list(dict.fromkeys(table["path"])),
        # what obsp["barrier"] holds: the chord-based loss barrier of this path
        "matrix_path": first_path,
        "matrix_value": "barrier_loss",
        "split": str(best["split"]),
        "n_points": int(best["n_points"]),
        "bn_batches": best["bn_batches"],
        "batch_size": best["batch_size"],
        "n_pairs": int(first.shape[0]),
        "from": str(store.root),
    }
    ms.uns["barrier"] = {"params": params, "curves": curves, "table": table}
    ms.obsp["barrier"] = matrix
    return True


def _matches(frame: pd.DataFrame, best: pd.Series, columns: list[str]) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    for c in columns:
        keep &= (frame[c] == best[c]).to_numpy() | (frame[c].isna() & pd.isna(best[c])).to_numpy()
    return keep
