"""Preprocessing: functions from a MaskSet to a new MaskSet (the input is never changed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.store.layout import Layout

__all__ = ["filter_accuracy", "layers", "sample", "subset"]


def _selector(ms, where) -> np.ndarray:
    """Boolean selector per mask from a query string, ``{column: value(s)}`` or a bool array."""
    from landscape.maskset import select_obs

    return select_obs(ms.obs, where)


def subset(ms, where: str | Mapping[str, Any] | np.ndarray):
    """The masks selected by ``where``, with every slot kept aligned.

    Parameters
    ----------
    ms
        MaskSet.
    where
        A pandas query on ``obs`` (``"method == 'edge_popup' and density == 0.5"``), a mapping
        ``{column: value or list of values}``, or a bool array with one entry per mask.
    """
    return ms[np.flatnonzero(_selector(ms, where))]


def filter_accuracy(ms, min_test_acc: float, column: str = "test_acc"):
    """The masks whose ``obs[column]`` is at least ``min_test_acc`` (missing values drop out)."""
    if column not in ms.obs.columns:
        raise AnalysisError(f"filter_accuracy: obs has no column {column!r}")
    acc = pd.to_numeric(ms.obs[column], errors="coerce").to_numpy(dtype=float)
    return ms[np.flatnonzero(acc >= min_test_acc)]


def sample(ms, n: int, rng):
    """``n`` masks drawn without replacement (kept in their original order).

    ``rng`` is an int seed or a numpy Generator.
    """
    if not 0 <= n <= len(ms):
        raise AnalysisError(f"sample: n={n} is not between 0 and the {len(ms)} masks")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return ms[np.sort(gen.choice(len(ms), size=n, replace=False))]


def layers(ms, names: str | Sequence[str]):
    """A MaskSet restricted to some layers (in layout order), with a new layout.

    Rows are repacked (each layer is 64-bit aligned, so its bytes move as they are);
    ``obs["n_kept"]`` is recounted. Pairwise slots, embeddings and tool results describe the
    whole network and are not carried over.
    """
    from landscape.maskset import MaskSet

    wanted = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in wanted if n not in ms.layout.names]
    if unknown or not wanted:
        raise AnalysisError(
            f"layers: unknown layer {unknown[0] if unknown else None!r}; layers are {ms.layout.names}"
        )
    specs = [s for s in ms.layout if s.name in wanted]
    layout = Layout((s.name, s.shape) for s in specs)
    rows = ms.rows()
    packed = np.concatenate([rows[:, s.byte_slice] for s in specs], axis=1)
    obs = ms.obs.drop(columns=["n_kept"], errors="ignore")
    out = MaskSet.from_rows(packed, layout, obs)
    out.runs = dict(ms.runs)
    if "skipped_runs" in ms.uns:
        out.uns["skipped_runs"] = list(ms.uns["skipped_runs"])
    return out
