"""The masks' stored predictions as arrays aligned with a MaskSet's ``obs``.

Slots (written by :func:`attach_predictions`, or set by hand for masks that do not come from a
run store): ``obsm["logprob_<split>"]`` float16 ``(n, N, n_classes)``, ``obsm["pred_<split>"]``
``(n, N)`` and ``obsm["labels_<split>"]`` ``(n, N)``. A mask without predictions has ``-1``
labels. Without ``pred_<split>`` the predicted class is the argmax of the log-probabilities.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from landscape.errors import AnalysisError, StoreError

MISSING = -1  # label of a mask without stored predictions
#: methods that train weights: each member is its own trained network, not a mask over shared weights
WEIGHT_TRAINING = ("dense", "kstarts", "dissipating", "kstarts_dissipating")
MASKS, NETWORKS = "masks of one network", "independently trained networks"
#: members of a weight-training group that share one weight seed: one initialisation, trained
#: on other data orders (and the method's own draws), not independent initialisations
ONE_INIT = "networks trained from one initialisation"
FIX = "run `landscape predict RUNS` (or landscape.search.predict.fill_predictions) first"


@dataclass
class Predictions:
    """One split's predictions of the masks at ``positions`` (positions into the MaskSet)."""

    split: str
    logprob: np.ndarray  # float64 (k, N, C), normalised log-probabilities
    pred: np.ndarray  # int64 (k, N)
    labels: np.ndarray  # int64 (N,), shared by the k masks
    positions: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.logprob.shape[2])

    @property
    def n_examples(self) -> int:
        return int(self.labels.shape[0])

    @property
    def correct(self) -> np.ndarray:
        return self.pred == self.labels[None]

    def subset(self, positions: np.ndarray) -> Predictions:
        """The masks among ``positions`` (MaskSet positions, each with predictions)."""
        where = {int(p): k for k, p in enumerate(self.positions)}
        rows = np.array([where[int(p)] for p in positions], dtype=np.int64)
        return Predictions(
            self.split, self.logprob[rows], self.pred[rows], self.labels, np.asarray(positions)
        )


def attach_predictions(ms, split: str = "test", *, refresh: bool = False) -> np.ndarray:
    """Put the stored predictions of ``split`` on ``ms`` (``obsm`` slots above); returns a bool
    per mask: whether it has predictions. Masks from runs without stored predictions are
    marked missing (a warning names the runs and the fix). A listed predictions file that
    cannot be read leaves out its mask only: a warning names each file, and
    ``uns["unreadable_predictions"][split]`` lists them (``{"path", "reason"}``)."""
    key = f"logprob_{split}"
    if key in ms.obsm and not refresh:
        if f"labels_{split}" not in ms.obsm:
            raise AnalysisError(f'obsm["{key}"] is set but obsm["labels_{split}"] (the true classes) is not')
        return _available(np.asarray(ms.obsm[f"labels_{split}"]))
    from landscape.store.predictions import FOLDER, INDEX, mask_key
    from landscape.store.run_store import RunStore

    obs = ms.obs
    for col in ("run_id", "weight_seed", "search_seed"):
        if col not in obs.columns:
            raise AnalysisError(
                f"obs has no {col!r} column, so stored predictions cannot be found; set "
                f'ms.obsm["{key}"] and ms.obsm["labels_{split}"] yourself'
            )
    loaded: dict[int, dict[str, np.ndarray]] = {}
    lacking: dict[str, str] = {}  # run -> why (one of) its masks has no stored predictions
    failed: set[str] = set()  # runs that cannot be opened, or whose index cannot be read
    unreadable: list[dict[str, str]] = []  # listed files (or an index) that could not be read
    stores: dict[str, RunStore] = {}
    indexes: dict[str, dict] = {}
    # stored predictions are the final mask's: a snapshot of an earlier epoch shares its seeds,
    # not its function, so it has none
    earlier = (
        (obs["epoch"].notna() & obs["final_epoch"].notna() & (obs["epoch"] != obs["final_epoch"])).to_numpy()
        if {"epoch", "final_epoch"} <= set(obs.columns)
        else np.zeros(len(obs), dtype=bool)  # final masks (no epoch, or NaN beside snapshots)
    )
    if earlier.any():
        lacking[EARLIER] = "predictions are stored for final masks only, not for earlier snapshots"
    for pos, (run, w, s) in enumerate(zip(obs["run_id"].astype(str), obs["weight_seed"], obs["search_seed"])):
        if run in failed or earlier[pos]:
            continue
        try:
            if run not in stores:
                if run not in ms.runs:
                    raise StoreError(f"run {run}: not in ms.runs (read the masks with ls.read_runs)")
                stores[run] = RunStore.open(ms.runs[run])
        except StoreError as exc:
            failed.add(run)
            lacking.setdefault(run, str(exc))
            continue
        store = stores[run]
        try:
            if run not in indexes:
                indexes[run] = store.predictions_index()
        except StoreError as exc:  # a damaged index: none of the run's files can be trusted
            failed.add(run)
            unreadable.append(_unreadable(store.path / INDEX, exc))
            continue
        entry = indexes[run].get(mask_key(int(w), int(s)))
        try:
            loaded[pos] = store.load_predictions(int(w), int(s), split, index=indexes[run])
        except StoreError as exc:
            if entry is not None and entry["splits"].get(split):  # listed, yet unreadable
                unreadable.append(_unreadable(store.path / FOLDER / entry["file"], exc))
            else:
                lacking.setdefault(run, str(exc))
    # a new dict: subsets share their parent's uns entries
    ms.uns["unreadable_predictions"] = {**ms.uns.get("unreadable_predictions", {}), split: unreadable}
    if unreadable:
        warnings.warn(
            f"{len(unreadable)} stored {split} predictions file(s) could not be read, their masks "
            "are left out: " + "; ".join(f"{u['path']}: {u['reason']}" for u in unreadable),
            stacklevel=3,
        )
    if not loaded:
        reasons = [*lacking.values(), *(f"{u['path']}: {u['reason']}" for u in unreadable)]
        first = f" ({reasons[0]})" if reasons else ""
        raise AnalysisError(f"no stored {split} predictions for these masks{first}; {FIX}")
    if EARLIER in lacking:
        warnings.warn(
            f"{int(earlier.sum())} snapshot(s) of earlier epochs have no stored {split} predictions "
            "(those are of the final masks) and are left out",
            stacklevel=3,
        )
    runs_lacking = {k: v for k, v in lacking.items() if k != EARLIER}
    if runs_lacking:
        first = next(iter(runs_lacking.values()))
        warnings.warn(
            f"masks of {len(runs_lacking)} run(s) without stored {split} predictions are left out "
            f"(first: {first})",
            stacklevel=3,
        )
    shapes = {v["logprob"].shape for v in loaded.values()}
    if len(shapes) > 1:
        raise AnalysisError(f"stored {split} predictions differ in shape between runs: {sorted(shapes)}")
    (n_examples, n_classes) = shapes.pop()
    n = len(ms)
    logprob = np.zeros((n, n_examples, n_classes), dtype=np.float16)
    pred = np.full((n, n_examples), MISSING, dtype=np.int64)
    labels = np.full((n, n_examples), MISSING, dtype=np.int64)
    for pos, values in loaded.items():
        logprob[pos], pred[pos], labels[pos] = values["logprob"], values["pred"], values["labels"]
    ms.obsm[key], ms.obsm[f"pred_{split}"], ms.obsm[f"labels_{split}"] = logprob, pred, labels
    return _available(labels)


EARLIER = "<earlier snapshots>"  # the key in ``lacking`` for snapshot rows before the final epoch


def _unreadable(path, exc: StoreError) -> dict[str, str]:
    """``{"path", "reason"}``, the reason without the path the message starts with."""
    text, prefix = str(exc), f"{path}: "
    return {"path": str(path), "reason": text[len(prefix) :] if text.startswith(prefix) else text}


def _available(labels: np.ndarray) -> np.ndarray:
    """Masks with predictions: labels not marked missing (none for an empty split)."""
    if labels.ndim != 2 or labels.shape[1] == 0:
        return np.zeros(labels.shape[0], dtype=bool)
    return labels[:, 0] != MISSING


def group_predictions(ms, positions: np.ndarray, split: str) -> Predictions | None:
    """Predictions of the masks at ``positions`` that have them (None when none has); masks of
    one group must have been evaluated on the same labelled examples."""
    has = attach_predictions(ms, split)
    keep = np.asarray(positions)[has[np.asarray(positions)]]
    if not len(keep):
        return None
    labels = np.asarray(ms.obsm[f"labels_{split}"])[keep]
    if not (labels == labels[:1]).all():
        raise AnalysisError(
            f"masks {ms.obs.index[keep[0]]} and others of one group were evaluated on different "
            f"{split} examples (their stored labels differ)"
        )
    raw = np.asarray(ms.obsm[f"logprob_{split}"])[keep].astype(np.float64)
    # normalise (stored values are float16 log-softmax; hand-set logits become log-probabilities)
    logprob = raw - _logsumexp(raw)
    if f"pred_{split}" in ms.obsm:
        pred = np.asarray(ms.obsm[f"pred_{split}"])[keep].astype(np.int64)
    else:
        pred = logprob.argmax(-1)
    return Predictions(split, logprob, pred, labels[0].astype(np.int64), keep)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(x - top).sum(axis=-1, keepdims=True))


def units(obs, group) -> list[tuple[object, np.ndarray, str]]:
    """``(network, positions, members)`` compared within: a group's random networks, or, for
    methods that train weights, the whole group (network None): its members are trained
    networks (:func:`trained_members` says whether from one initialisation or several), the
    deep-ensemble reference beside masks over one set of random weights."""
    column = "method.name" if "method.name" in obs.columns else "method"
    positions = np.asarray(group.positions)
    if column not in obs.columns:
        return [(net, pos, MASKS) for net, pos in group.networks.items()]
    # decided per mask: a group that pools trained networks with masks (groupby=...) compares
    # the trained ones with each other and the masks within their own random networks
    trained = obs[column].astype(str).isin(WEIGHT_TRAINING).to_numpy()
    out = []
    if trained[positions].any():
        members = positions[trained[positions]]
        out.append((None, members, trained_members(obs, members)))
    for net, pos in group.networks.items():
        pos = np.asarray(pos)
        pos = pos[~trained[pos]]
        if len(pos):
            out.append((net, pos, MASKS))
    return out


def trained_members(obs, positions) -> str:
    """What the trained members at ``positions`` are: :data:`NETWORKS` when each has its own
    weight seed (independent initialisations), :data:`ONE_INIT` when they share one (only the
    data order and the method's own draws differ), else how many initialisations they span."""
    from landscape.networks import network_keys

    part = obs.iloc[np.asarray(positions)]
    if "weight_seed" not in part.columns or part["weight_seed"].isna().any():
        return (
            NETWORKS
            if "weight_seed" not in part.columns
            else "trained networks (initialisations not recorded)"
        )
    distinct = len(set(network_keys(part, with_init=True)))  # a seed drawn by two rules: two
    if distinct == len(part):
        return NETWORKS
    if distinct == 1:
        return ONE_INIT
    return f"networks trained from {distinct} initialisations"
