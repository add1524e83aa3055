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

import functools
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace

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
    """The frame of each mask of a MaskSet, redrawn once per run and weight seed.

    Each mask gets an id: 0 for masks not searched in a source (uniform over whole layers),
    ``k >= 1`` for the ``k``-th distinct source (:attr:`table`), -1 where no null can be
    used (the source cannot be redrawn, or the mask leaves it).
    """

    def __init__(self, ms) -> None:
        self.ms = ms
        self.numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
        self.sourced = in_a_source(ms.obs)
        self.table: list[SourceFrame] = [dense_frame(self.numel)]
        self._words: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id: packed left-out, locked
        self._ids = np.where(self.sourced, -2, 0)  # -2: not looked at yet
        self._digests: dict[str, int] = {}

    def any_sourced(self, pos) -> bool:
        return bool(self.sourced[np.asarray(pos, dtype=np.int64)].any())

    def ids(self, pos) -> np.ndarray:
        """The frame id of every mask of ``pos`` (see the class doc)."""
        pos = np.asarray(pos, dtype=np.int64)
        todo = pos[self._ids[pos] == -2]
        if len(todo):
            self._resolve(np.unique(todo))
        return self._ids[pos]

    def of(self, pos) -> SourceFrame | None:
        """The frame shared by the masks ``pos`` (one network), or None when they share none
        that the baseline can use (see the module doc)."""
        ids = np.unique(self.ids(pos))
        return self.table[ids[0]] if len(ids) == 1 and ids[0] >= 0 else None

    def patterns(self, k: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{layer: (left out, locked)}`` bool arrays over each layer's weights for frame id
        ``k >= 1`` (what random masks inside that source must respect)."""
        from landscape.store.packing import unpack_layer

        out, locked = (w.view(np.uint8)[None] for w in self._words[k])
        return {
            s.name: (
                unpack_layer(out, self.ms.layout, s.name)[0],
                unpack_layer(locked, self.ms.layout, s.name)[0],
            )
            for s in self.ms.layout
        }

    def _resolve(self, pos: np.ndarray) -> None:
        obs = self.ms.obs.iloc[pos]
        if "run_id" not in obs or "weight_seed" not in obs:
            self._ids[pos] = -1
            return
        runs, seeds = obs["run_id"].astype(str).to_numpy(), obs["weight_seed"].to_numpy()
        self._ids[pos[pd.isna(seeds)]] = -1  # no weight seed: no source to redraw
        for run, seed in dict.fromkeys(zip(runs, seeds)):
            if pd.isna(seed):
                continue
            mine = pos[(runs == run) & (seeds == seed)]
            drawn = _draw(self.ms, run, seed)
            if drawn is None:
                self._ids[mine] = -1
                continue
            frame = drawn[2]
            if frame.is_dense:  # a source that drew nothing to leave out or lock
                self._ids[mine] = 0
                continue
            k = self._digests.setdefault(frame.digest, len(self.table))
            if k == len(self.table):
                self.table.append(frame)
                self._words[k] = drawn[0], drawn[1]
            self._ids[mine] = np.where(self._leave(mine, drawn), -1, k)

    def _leave(self, pos: np.ndarray, drawn, chunk: int = 64) -> np.ndarray:
        """Which masks of ``pos`` keep a left-out weight or drop a locked one (read a few
        masks at a time: masks of large networks need not fit twice)."""
        out, locked, _ = drawn
        bad = np.zeros(len(pos), dtype=bool)
        for start in range(0, len(pos), chunk):
            words = self.ms.words(pos[start : start + chunk])
            bad[start : start + chunk] = (words & out).any(axis=1) | (~words & locked).any(axis=1)
        return bad


def pair_chance(frames: SourceFrames, pos_i, pos_j, counts, numel, metric: str, i, j):
    """:func:`landscape.tl.baseline.chance_similarity` of the pairs ``(i, j)`` (rows of
    ``counts``) whose masks sit at positions ``pos_i, pos_j`` of ``frames.ms``, each pair
    under its own null: whole layers when either mask is not in a source (one mask uniform
    over its layers overlaps any other hypergeometrically), the source when both share one,
    NaN otherwise (two sources, or one that cannot be used)."""
    from landscape.tl.baseline import chance_similarity

    a, b = frames.ids(pos_i), frames.ids(pos_j)
    cls = np.where((a < 0) | (b < 0), -1, np.where((a == 0) | (b == 0), 0, np.where(a == b, a, -1)))
    i, j = np.asarray(i), np.asarray(j)
    n_layers = len(numel)
    mean_l, sd_l = np.full((len(i), n_layers), np.nan), np.full((len(i), n_layers), np.nan)
    mean_w, sd_w = np.full(len(i), np.nan), np.full(len(i), np.nan)
    for k in np.unique(cls[cls >= 0]):
        sel = cls == k
        frame = None if k == 0 else frames.table[k]
        mean_l[sel], sd_l[sel], mean_w[sel], sd_w[sel] = chance_similarity(
            counts, numel, metric, i[sel], j[sel], frame
        )
    return mean_l, sd_l, mean_w, sd_w


#: sources drawn lately, by run folder, weight seed and layout: every tool of one analysis
#: asks for the same ones, and a large network's take a fraction of a second each
_DRAWN: OrderedDict = OrderedDict()
_DRAWN_KEEP = 16


def _draw(ms, run: str, seed) -> tuple[np.ndarray, np.ndarray, SourceFrame] | None:
    """The source of run ``run`` for weight seed ``seed``: packed left-out and locked words
    and the frame, or None when it cannot be redrawn here."""
    path = ms.runs.get(run)
    if path is None or pd.isna(seed):
        return None
    key = (str(path), run, int(seed), tuple((s.name, s.shape) for s in ms.layout))
    if key in _DRAWN:
        _DRAWN.move_to_end(key)
        return _DRAWN[key]
    try:
        drawn = _redraw(ms, path, int(seed))
    except OSError:  # a file that could not be read now: no chance level, and asked again next time
        return None
    _DRAWN[key] = drawn
    while len(_DRAWN) > _DRAWN_KEEP:
        _DRAWN.popitem(last=False)
    return drawn


def _searchable(path: str, layout) -> tuple[list, object] | None:
    """The searchable layers of a run's network (name, shape and size), as the search ranks
    them, and its method config; None when the run's network is not this layout's."""
    built = _network_layers(path)
    if built is None or built[0] != layout:
        return None
    return built[1], built[2]


@functools.lru_cache(maxsize=64)
def _network_layers(path: str):
    """``(layout, searchable layers, method config)`` of the network a run builds (once per
    run folder; a run's config never changes), None for masks whose source another code drew."""
    from landscape import registries
    from landscape.store.rebuild import _model_class_args
    from landscape.store.run_store import RunStore

    store = RunStore.open(path)
    cfg = store.config
    if cfg.origin.format or cfg.model.name == "external":
        return None
    input_shape, n_classes = _model_class_args(store)
    model = registries.models.load(cfg.model.name)(cfg.model, input_shape, n_classes, 1)
    layers = [
        (name, SimpleNamespace(weight_shape=layer.weight_shape, numel=layer.numel))
        for name, layer in model.masked_layers()
        if not layer.dense
    ]
    return model.layout(), layers, cfg.method


def _redraw(ms, path, seed: int) -> tuple[np.ndarray, np.ndarray, SourceFrame] | None:
    from landscape.errors import LandscapeError
    from landscape.search.methods.sources import ranks_globally, source_patterns
    from landscape.store.packing import as_words, pack_layers

    try:
        built = _searchable(str(path), ms.layout)
        if built is None:
            return None
        searchable, method = built
        patterns = source_patterns(searchable, method, seed, ranks_globally(method))
    except (LandscapeError, KeyError, ValueError):
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
