"""Bit-packing of binary masks: one row per mask, little bit order, 64-bit aligned layers.

A packed row is ``layout.row_bytes`` uint8 values (viewable as ``layout.row_words`` uint64
words). Padding bits between layers are always zero, so popcounts over whole rows equal
popcounts over the real weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from landscape.store.layout import Layout


def pack_layers(masks: Mapping[str, np.ndarray], layout: Layout) -> np.ndarray:
    """Pack per-layer masks into rows.

    Parameters
    ----------
    masks
        ``{layer name: array of shape (n_masks, *layer.shape)}`` (bool or 0/1).
    layout
        The layout that fixes layer order and offsets.

    Returns
    -------
    np.ndarray
        ``uint8`` array of shape ``(n_masks, layout.row_bytes)``.
    """
    missing = [s.name for s in layout if s.name not in masks]
    if missing:
        raise KeyError(f"masks for layers {missing} are missing")
    n = {np.asarray(masks[s.name]).shape[0] for s in layout}
    if len(n) != 1:
        raise ValueError(f"layers disagree on the number of masks: {sorted(n)}")
    n_masks = n.pop()
    out = np.zeros((n_masks, layout.row_bytes), dtype=np.uint8)
    for spec in layout:
        block = np.asarray(masks[spec.name])
        if block.size != n_masks * spec.numel:
            raise ValueError(f"layer {spec.name!r}: {block.shape[1:]} per mask, expected {spec.shape}")
        block = block.reshape(n_masks, spec.numel)
        packed = np.packbits(block.astype(bool, copy=False), axis=1, bitorder="little")
        bs = spec.byte_slice
        out[:, bs.start : bs.start + packed.shape[1]] = packed
    return out


def pack_flat(flat: np.ndarray, layout: Layout) -> np.ndarray:
    """Pack ``(n_masks, layout.n_weights)`` concatenated masks (layer order) into rows."""
    flat = np.asarray(flat)
    if flat.ndim != 2 or flat.shape[1] != layout.n_weights:
        raise ValueError(f"expected shape (n, {layout.n_weights}), got {flat.shape}")
    masks, start = {}, 0
    for spec in layout:
        masks[spec.name] = flat[:, start : start + spec.numel]
        start += spec.numel
    return pack_layers(masks, layout)


def unpack_layer(rows: np.ndarray, layout: Layout, layer: str) -> np.ndarray:
    """Unpack one layer: bool array ``(n_masks, numel)``."""
    spec = layout[layer]
    rows = np.asarray(rows, dtype=np.uint8).reshape(-1, layout.row_bytes)
    return np.unpackbits(rows[:, spec.byte_slice], axis=1, count=spec.numel, bitorder="little").astype(bool)


def unpack_flat(rows: np.ndarray, layout: Layout) -> np.ndarray:
    """Unpack rows into bool ``(n_masks, layout.n_weights)``, layers concatenated in order."""
    rows = np.asarray(rows, dtype=np.uint8).reshape(-1, layout.row_bytes)
    out = np.empty((rows.shape[0], layout.n_weights), dtype=bool)
    start = 0
    for spec in layout:
        out[:, start : start + spec.numel] = unpack_layer(rows, layout, spec.name)
        start += spec.numel
    return out


def unpack_layers(rows: np.ndarray, layout: Layout) -> dict[str, np.ndarray]:
    """Unpack rows into ``{layer: bool array (n_masks, *shape)}``."""
    rows = np.asarray(rows, dtype=np.uint8).reshape(-1, layout.row_bytes)
    return {s.name: unpack_layer(rows, layout, s.name).reshape(rows.shape[0], *s.shape) for s in layout}


def as_words(rows: np.ndarray) -> np.ndarray:
    """View packed uint8 rows as uint64 words (no copy when contiguous)."""
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    return rows.view(np.uint64)


def layer_counts(rows: np.ndarray, layout: Layout) -> np.ndarray:
    """Number of kept weights per mask and layer: int64 ``(n_masks, n_layers)``."""
    words = as_words(np.asarray(rows).reshape(-1, layout.row_bytes))
    out = np.empty((words.shape[0], len(layout)), dtype=np.int64)
    for j, spec in enumerate(layout):
        out[:, j] = np.bitwise_count(words[:, spec.word_slice]).sum(axis=1, dtype=np.int64)
    return out
