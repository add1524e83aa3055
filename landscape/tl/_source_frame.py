"""What the masks of one network could choose from: the chance baseline of masks in a source.

Masks searched inside an ER or partially frozen source (``method.source``) never keep the
source's left-out weights and always keep its locked ones. Their null is a uniformly random
mask *inside the same source*: per layer, the locked weights plus a uniform choice of the
rest among the free weights. Two such masks with ``K1, K2`` kept weights of a layer that
has ``F`` free and ``L`` locked share ``L + Hypergeometric(F, K1 - L, K2 - L)`` weights,
which :mod:`landscape.tl.baseline` turns into chance similarities as for the dense network
(``F = n``, ``L = 0``).

The source is not stored with the masks: it is redrawn from the run's config and weight
seed as the search drew it (:func:`landscape.search.methods.sources.source_patterns`), and
used only when every mask of the network keeps none of its left-out weights and all of its
locked ones. Otherwise (an imported run, a MaskSet without its runs, masks of two sources
in one network, a source this code draws differently) there is no chance level and the
tables say so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from landscape.tl.baseline import in_a_source

#: what the tables say of the chance level of masks searched inside a source
IN_SOURCE_NOTE = (
    "masks searched inside an ER or partially frozen source: chance is that of random masks "
    "inside the same source (its locked weights kept, its left-out ones never, the rest uniform)"
)


@dataclass(frozen=True)
class SourceFrame:
    """Per layer of a layout: the weights a mask may choose (``free``) and those every mask
    keeps (``locked``); the dense network has ``free = numel`` and ``locked = 0``."""

    free: np.ndarray  # (L,) int64
    locked: np.ndarray  # (L,) int64
    digest: str = ""  # the patterns' checksum ("" for the dense network)

    @property
    def is_dense(self) -> bool:
        return not self.digest


def null_of(frame: SourceFrame | None) -> str | float:
    """What a chance level is taken over: ``"layers"`` (uniform over each layer), ``"source"``
    (uniform inside the masks' source), NaN without one."""
    if frame is None:
        return np.nan
    return "layers" if frame.is_dense else "source"


def dense_frame(numel: np.ndarray) -> SourceFrame:
    numel = np.asarray(numel, dtype=np.int64)
    return SourceFrame(numel.copy(), np.zeros_like(numel))


class SourceFrames:
    """The frame of each network of a MaskSet's masks, redrawn once per run and weight seed."""

    def __init__(self, ms) -> None:
        self.ms = ms
        self.numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
        self.sourced = in_a_source(ms.obs)
        self._patterns: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, SourceFrame] | None] = {}

    def any_sourced(self, pos) -> bool:
        return bool(self.sourced[np.asarray(pos, dtype=np.int64)].any())

    def of(self, pos) -> SourceFrame | None:
        """The frame shared by the masks ``pos`` (one network), or None when they have none
        that the baseline can use (see the module doc)."""
        pos = np.asarray(pos, dtype=np.int64)
        if not self.sourced[pos].any():
            return dense_frame(self.numel)
        if not self.sourced[pos].all() or "run_id" not in self.ms.obs or "weight_seed" not in self.ms.obs:
            return None
        obs = self.ms.obs.iloc[pos]
        runs, seeds = obs["run_id"].astype(str).to_numpy(), obs["weight_seed"].to_numpy()
        digests = set()
        for run, seed in dict.fromkeys(zip(runs, seeds)):
            drawn = self._drawn(run, seed)
            mine = pos[(runs == run) & (seeds == seed)]
            if drawn is None or not self._respect(mine, drawn):
                return None
            digests.add(drawn[2].digest)
            frame = drawn[2]
        # masks of two sources in one network have no common null
        return frame if len(digests) == 1 else None

    def _respect(self, pos: np.ndarray, drawn, chunk: int = 64) -> bool:
        """Every mask of ``pos`` keeps none of the left-out weights and all of the locked
        ones (read a few masks at a time: masks of large networks need not fit twice)."""
        out, locked, _ = drawn
        for start in range(0, len(pos), chunk):
            words = self.ms.words(pos[start : start + chunk])
            if (words & out).any() or (~words & locked).any():
                return False
        return True

    def _drawn(self, run: str, seed) -> tuple[np.ndarray, np.ndarray, SourceFrame] | None:
        key = (run, seed)
        if key not in self._patterns:
            self._patterns[key] = _draw(self.ms, run, seed)
        return self._patterns[key]


def _draw(ms, run: str, seed) -> tuple[np.ndarray, np.ndarray, SourceFrame] | None:
    """The source of run ``run`` for weight seed ``seed``: packed left-out and locked words
    and the frame, or None when it cannot be redrawn here."""
    path = ms.runs.get(run)
    if path is None or pd.isna(seed):
        return None
    from landscape import registries
    from landscape.errors import LandscapeError
    from landscape.search.methods.sources import ranks_globally, source_patterns
    from landscape.store.packing import as_words, pack_layers
    from landscape.store.rebuild import _model_class_args
    from landscape.store.run_store import RunStore

    try:
        store = RunStore.open(path)
        cfg = store.config
        if cfg.origin.format or cfg.model.name == "external":
            return None  # its source was drawn by another code
        input_shape, n_classes = _model_class_args(store)
        model = registries.models.load(cfg.model.name)(cfg.model, input_shape, n_classes, 1)
        if model.layout() != ms.layout:
            return None
        searchable = [(n, layer) for n, layer in model.masked_layers() if not layer.dense]
        patterns = source_patterns(searchable, cfg.method, int(seed), ranks_globally(cfg.method))
    except (LandscapeError, OSError, KeyError, ValueError):
        return None
    by_name = {name: p for (name, _), p in zip(searchable, patterns)}
    out, locked = {}, {}
    for spec in ms.layout:
        p = by_name.get(spec.name)
        flat = np.zeros(spec.numel, dtype=np.int8) if p is None else p.reshape(-1).numpy()
        out[spec.name], locked[spec.name] = (flat < 0)[None], (flat > 0)[None]
    out_words = as_words(pack_layers(out, ms.layout))[0]
    locked_words = as_words(pack_layers(locked, ms.layout))[0]
    n_out = np.array([out[s.name].sum() for s in ms.layout], dtype=np.int64)
    n_locked = np.array([locked[s.name].sum() for s in ms.layout], dtype=np.int64)
    numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
    digest = hashlib.sha256(out_words.tobytes() + locked_words.tobytes()).hexdigest()
    frame = SourceFrame(numel - n_out - n_locked, n_locked, digest if (n_out.any() or n_locked.any()) else "")
    return out_words, locked_words, frame
