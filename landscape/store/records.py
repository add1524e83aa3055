"""Per-mask records as tables, and config fields flattened for the per-mask table ``obs``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from landscape.config import SearchConfig

# the first columns of a records table, in this order; metrics follow as they come
KEY_COLUMNS = ("weight_seed", "search_seed")


#: ``all_ones_batchnorm`` of a BatchNorm network's every-weight-kept accuracy measured with
#: statistics of the training split; records of BatchNorm masks without it (older searches)
#: hold a value of the test batches' statistics, which depends on how the test set is batched
ALL_ONES_BATCHNORM = "train"
#: what reading puts in their place: the value is left out (NaN), and this says why
ALL_ONES_STALE = "test batches (older search; left out)"

# record keys that are not per-mask scalars: the curves and the digests of per-mask files
NOT_COLUMNS = ("curves", "files")


#: how a record counts ``best_epoch``: epochs trained behind the best network (a snapshot's
#: ``epoch``); records without it counted from 0 (one less) and are read in this count
BEST_EPOCH_COUNTS, BEST_EPOCH_COUNTS_NOW = "best_epoch_counts", "epochs_trained"


def _best_epoch_in_epochs(record: dict) -> dict:
    if BEST_EPOCH_COUNTS in record or record.get("best_epoch") is None:
        return record
    return record | {"best_epoch": int(record["best_epoch"]) + 1, BEST_EPOCH_COUNTS: BEST_EPOCH_COUNTS_NOW}


def records_frame(records: list[dict]) -> pd.DataFrame:
    """One row per mask (curves and file digests left out), key columns first, in the given
    order; ``best_epoch`` in epochs trained whatever version wrote it."""
    import pandas as pd

    rows = [{k: v for k, v in _best_epoch_in_epochs(r).items() if k not in NOT_COLUMNS} for r in records]
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=list(KEY_COLUMNS))
    first = [c for c in KEY_COLUMNS if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    for col in (*KEY_COLUMNS, "n_kept"):
        if col in frame.columns and len(frame):
            frame[col] = frame[col].astype("int64")
    return frame


def curves_frame(records: list[dict]) -> pd.DataFrame:
    """Long table of per-epoch curves: ``mask, weight_seed, search_seed, epoch, <metrics>``.

    ``mask`` is the position of the mask in ``records`` (manifest order); ``epoch`` counts the
    epochs trained (1 for the first), as ``best_epoch`` and a snapshot's ``epoch`` do. Curves
    of unequal length are padded with NaN to the longest one of the same mask.
    """
    import numpy as np
    import pandas as pd

    parts = []
    for i, rec in enumerate(records):
        curves = rec.get("curves") or {}
        if not curves:
            continue
        n_epochs = max(len(v) for v in curves.values())
        part = {"mask": np.full(n_epochs, i, dtype=np.int64)}
        for key in KEY_COLUMNS:
            part[key] = np.full(n_epochs, int(rec[key]), dtype=np.int64)
        # epochs trained, as best_epoch and a snapshot's epoch count them (entry k: after k + 1)
        part["epoch"] = np.arange(1, n_epochs + 1, dtype=np.int64)
        for name, values in curves.items():
            col = np.full(n_epochs, np.nan)
            col[: len(values)] = np.asarray(values, dtype=float)
            part[name] = col
        parts.append(pd.DataFrame(part))
    if not parts:
        return pd.DataFrame(columns=["mask", *KEY_COLUMNS, "epoch"])
    return pd.concat(parts, ignore_index=True)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"name": "mlp"}} -> {"model.name": "mlp"}``; lists become tuples."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{dotted}."))
        elif isinstance(value, list):
            out[dotted] = tuple(value)
        else:
            out[dotted] = value
    return out


def method_label(cfg: SearchConfig) -> str:
    """Short method name for tables and legends.

    ``method.name``, plus ``+recycle`` when Iterative Weight Recycling is on
    (``method.recycle.every > 0``) and ``+er`` / ``+frozen`` when the search selects from an
    ER or a partially frozen source instead of the dense network.
    """
    label = cfg.method.name
    if cfg.method.recycle.every > 0:
        label += "+recycle"
    if cfg.method.source.kind != "dense":
        label += f"+{cfg.method.source.kind}"
    return label


def first_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """The first dotted field where two nested config dicts differ, as ``field: a vs b``."""
    fa, fb = flatten(a), flatten(b)
    for key in sorted(set(fa) | set(fb)):
        if fa.get(key) != fb.get(key):
            return f"{key}: {fa.get(key)!r} vs {fb.get(key)!r}"
    return "no difference"


#: record fields saying how a mask was searched, where an earlier version did otherwise under the
#: same run id: the trainer evaluates an epoch before its end-of-epoch step, and CIFAR crops pad
#: with black, random masks of weight seeds other than 0 are their own (earlier: the step came
#: first; crops padded with the mean colour; every network drew weight seed 0's random masks)
EPOCH_EVENTS, EPOCH_EVENTS_NOW = "epoch_events", "after_evaluation"
CROP_FILL, CROP_FILL_NOW = "crop_fill", "black"
RANDOM_DRAW, RANDOM_DRAW_NOW = "random_draw", "per_network"
# a searched mask of weight seed w != 0 draws its scores, batches and the method's random steps
# from streams of its own network (earlier: every network drew those of weight seed 0)
SEARCH_DRAW, SEARCH_DRAW_NOW = "search_draw", "per_network"
# masks that train nothing are measured with BatchNorm statistics of the training split
# (earlier: with none, every BatchNorm the identity)
UNTRAINED_BATCHNORM, UNTRAINED_BATCHNORM_NOW = "untrained_batchnorm", "training_split"
# a marker's value for a search resumed from a checkpoint that does not say how it searched
UNMARKED = "resumed_unmarked"
# methods whose end-of-epoch step changes the network (recycling is checked on the config)
_EPOCH_STEP_METHODS = ("kstarts", "dissipating", "kstarts_dissipating")


def lacking_in(records: pd.DataFrame, field: str, now: str) -> int:
    """How many records do not say ``field: now``."""
    if field not in records.columns:
        return len(records)
    return int((records[field].astype(object) != now).sum())


def records_crop_fill(cfg) -> bool:
    """Whether a run's records say how its crops were padded (CIFAR-10 with augmentation)."""
    return cfg.data.name == "cifar10" and bool(cfg.data.augment)


def records_random_draw(cfg) -> bool:
    """Whether a run's masks are drawn at random (``random``; ``dense`` below density 1)."""
    return cfg.method.name == "random" or (cfg.method.name == "dense" and cfg.method.density < 1)


def records_search_draw(cfg) -> bool:
    """Whether a run's masks are searched from seeded streams (every method but ``random``,
    whose draw ``random_draw`` marks)."""
    return cfg.method.name != "random"


def records_untrained_batchnorm(cfg) -> bool:
    """Whether a run's masks train nothing over a network with BatchNorm (random masks)."""
    return cfg.method.name == "random" and cfg.model.uses_batchnorm


def search_conventions(cfg, has_batchnorm: bool) -> dict[str, str]:
    """The record markers of a search of ``cfg`` that starts now (``has_batchnorm``: whether
    its model has BatchNorm layers, as built)."""
    return {
        EPOCH_EVENTS: EPOCH_EVENTS_NOW,
        **({CROP_FILL: CROP_FILL_NOW} if records_crop_fill(cfg) else {}),
        **({RANDOM_DRAW: RANDOM_DRAW_NOW} if records_random_draw(cfg) else {}),
        **({SEARCH_DRAW: SEARCH_DRAW_NOW} if records_search_draw(cfg) else {}),
        **(
            {UNTRAINED_BATCHNORM: UNTRAINED_BATCHNORM_NOW}
            if cfg.method.name == "random" and has_batchnorm
            else {}
        ),
    }


def older_conventions(records: pd.DataFrame, cfg) -> list[str]:
    """What the masks of a run searched by an earlier version record differently, one
    sentence each (empty when nothing applies): their values are kept, and the reader is told."""
    out = []
    if not len(records) or cfg.origin.format:
        return out

    def lacking(field: str, now: str) -> int:
        return lacking_in(records, field, now)

    def said(text: str, field: str, among: pd.DataFrame | None = None) -> str:
        among = records if among is None else among
        unmarked = int((among[field].astype(object) == UNMARKED).sum()) if field in among else 0
        if not unmarked:
            return text
        return (
            f"{text} ({unmarked} of them resumed from a checkpoint that does not say how it was "
            "searched: possibly so, not surely)"
        )

    steps = cfg.method.name in _EPOCH_STEP_METHODS or cfg.method.recycle.every > 0
    if steps and cfg.train.epochs > 1 and (n := lacking(EPOCH_EVENTS, EPOCH_EVENTS_NOW)):
        text = (
            f"{n} of {len(records)} masks were searched when the end-of-epoch step (recycling, "
            "selection, pruning) came before the epoch's evaluation: their curves, best_val_acc, "
            "best_epoch and test_acc_at_best_val describe the network after the step"
        )
        out.append(said(text, EPOCH_EVENTS))
    if records_crop_fill(cfg) and (n := lacking(CROP_FILL, CROP_FILL_NOW)):
        text = f"{n} of {len(records)} masks were searched with crops padded with the mean colour, not black"
        out.append(said(text, CROP_FILL))
    if records_untrained_batchnorm(cfg) and (n := lacking(UNTRAINED_BATCHNORM, UNTRAINED_BATCHNORM_NOW)):
        out.append(
            f"{n} of {len(records)} random masks were evaluated with BatchNorm statistics never "
            "estimated (every BatchNorm the identity): their accuracies and stored statistics "
            "are not measured as searched masks' are"
        )
    if "weight_seed" in records.columns:
        import pandas as pd

        # weight seed 0 draws as before; other networks drew weight seed 0's streams
        other = records[pd.to_numeric(records["weight_seed"], errors="coerce").fillna(0) != 0]
        if records_random_draw(cfg) and (n := lacking_in(other, RANDOM_DRAW, RANDOM_DRAW_NOW)):
            out.append(
                f"{n} of {len(records)} random masks of weight seeds other than 0 are the masks of "
                "weight seed 0 (drawn when every network drew the same random masks): their networks "
                "are not independent replicates"
            )
        if records_search_draw(cfg) and (n := lacking_in(other, SEARCH_DRAW, SEARCH_DRAW_NOW)):
            from landscape.config.validate_method import WEIGHT_TRAINING_METHODS

            if cfg.method.name in WEIGHT_TRAINING_METHODS:  # they draw batches, not scores
                shared = "were trained on the same batches (and K-starts candidates) for a search seed"
            else:
                shared = "started a search seed from the same scores and batches"
            text = (
                f"{n} of {len(records)} masks of weight seeds other than 0 were searched when every "
                f"network {shared} as weight seed 0: masks of one search seed in two networks are "
                "alike beyond chance, so their networks are not independent replicates (intervals "
                "over networks are too narrow)"
            )
            out.append(said(text, SEARCH_DRAW, other))
    return out


def leave_out_stale_all_ones(records: pd.DataFrame, has_batchnorm: bool) -> None:
    """Blank, in place, the every-weight-kept accuracy of a BatchNorm run's masks whose records
    do not say it was measured on the training split."""
    if not has_batchnorm or "all_ones_test_acc" not in records.columns or not len(records):
        return
    marker = records["all_ones_batchnorm"] if "all_ones_batchnorm" in records.columns else None
    stale = (marker != ALL_ONES_BATCHNORM).to_numpy() if marker is not None else np.ones(len(records), bool)
    stale = stale & records["all_ones_test_acc"].notna().to_numpy()
    if stale.any():
        records.loc[stale, "all_ones_test_acc"] = float("nan")
        if marker is None:
            records["all_ones_batchnorm"] = None
        records.loc[stale, "all_ones_batchnorm"] = ALL_ONES_STALE
