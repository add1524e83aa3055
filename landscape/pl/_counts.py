"""Kept-weight counts per mask and layer, from whatever slot already holds them."""

from __future__ import annotations

from typing import Any

import numpy as np


def layer_counts(ms: Any) -> np.ndarray:
    """``(n_masks, n_layers)`` kept counts.

    Taken from the diagonal of ``obsp["intersection_layers"]`` when ``tl.distances`` stored it
    (free), otherwise counted from the packed rows.
    """
    if "intersection_layers" in ms.obsp:
        inter = np.asarray(ms.obsp["intersection_layers"])
        idx = np.arange(inter.shape[0])
        return inter[idx, idx, :].astype(np.int64)
    from landscape.store.packing import layer_counts as packed_counts

    return packed_counts(ms.rows(), ms.layout)
