"""Every mask's outputs on the validation and test splits: at the end of a search, and by
re-evaluation of stored masks for runs searched before predictions were kept.

One ensemble forward evaluates all masks of a network at once (as the trainer's evaluation
does); outputs are stored by :mod:`landscape.store.predictions`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from landscape.errors import LandscapeError
from landscape.nn.base import EnsembleNet

log = logging.getLogger("landscape.search")

SPLITS = ("val", "test")
MASKS_PER_FORWARD = 16  # re-evaluation: masks rebuilt into one model at a time


@torch.no_grad()
def predict(model: EnsembleNet, x: torch.Tensor, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Log-probabilities and predicted classes of every mask on ``x`` ``(N, *input_shape)``.

    Returns
    -------
    logprob : float16 ndarray ``(M, N, n_classes)``
        ``log_softmax`` of the float32 logits, rounded to float16.
    pred : int64 ndarray ``(M, N)``
        ``argmax`` of the float32 logits (the class the recorded accuracy counts).

    BatchNorm uses running statistics (eval mode); the model's mode is restored after.
    """
    m = model.n_masks
    if len(x) == 0:  # an empty split (no validation split): nothing to evaluate
        return np.zeros((m, 0, 0), dtype=np.float16), np.zeros((m, 0), dtype=np.int64)
    from landscape.search import precision

    was_training = model.training
    model.eval()
    logprobs, preds = [], []
    # IEEE float32 on every device, as the search's own evaluation
    with precision.strict_float32():
        try:
            for start in range(0, len(x), batch_size):
                xb = x[start : start + batch_size]
                logits = model(xb.unsqueeze(0).expand(m, *xb.shape)).float()
                preds.append(logits.argmax(-1).cpu())
                logprobs.append(torch.log_softmax(logits, -1).to(torch.float16).cpu())
        finally:
            model.train(was_training)
    return torch.cat(logprobs, 1).numpy(), torch.cat(preds, 1).numpy()


def split_predictions(
    model: EnsembleNet, splits: dict[str, tuple[torch.Tensor, torch.Tensor]], batch_size: int = 1024
) -> list[dict[str, dict[str, np.ndarray]]]:
    """Per mask ``{split: {"logprob", "pred", "labels"}}`` (empty arrays for an empty split)."""
    out: list[dict[str, dict[str, np.ndarray]]] = [{} for _ in range(model.n_masks)]
    for name, (x, y) in splits.items():
        logprob, pred = predict(model, x, batch_size)
        labels = y.cpu().numpy()
        for i in range(model.n_masks):
            out[i][name] = {"logprob": logprob[i], "pred": pred[i], "labels": labels}
    return out


@dataclass
class PredictSummary:
    """What :func:`fill_predictions` did in one run."""

    run_id: str
    path: Path
    evaluated: int = 0  # masks evaluated now
    present: int = 0  # masks whose predictions were stored already
    # largest |accuracy from the predictions - recorded accuracy| over the evaluated masks, per
    # split; 0 when the rebuilt networks reproduce the search (anything else is a warning sign)
    max_acc_difference: dict[str, float] = field(default_factory=dict)
    problem: str = ""  # why the run was skipped (its networks or data cannot be rebuilt here)


def fill_predictions(
    runs: str | Path,
    *,
    splits: tuple[str, ...] = SPLITS,
    device: str | None = "cpu",
    force: bool = False,
    batch_size: int = 1024,
    masks_per_forward: int = MASKS_PER_FORWARD,
    progress: bool = True,
) -> list[PredictSummary]:
    """Evaluate stored masks whose predictions are not stored, and store them.

    Each network is rebuilt from the run (regenerated random weights checked against their
    checksum, stored weights where the method changed them, each mask's BatchNorm
    statistics) and evaluated on the run's dataset; the result is what the search would have
    stored at its end. Masks with predictions are left alone unless ``force``.

    Parameters
    ----------
    runs
        A runs root or one run directory.
    splits
        Which splits to evaluate (empty ones, e.g. no validation split, are skipped).
    device
        Where the networks run (``"auto"``: CUDA when available).
    force
        Re-evaluate masks whose predictions are stored already (and replace them).
    masks_per_forward
        Masks rebuilt into one ensemble model at a time.

    Returns
    -------
    list of PredictSummary
        One per run; ``max_acc_difference`` compares the accuracy of the new predictions with
        the one recorded by the search.
    """
    from landscape.search.runner import resolve_device
    from landscape.store.catalog import run_dirs
    from landscape.store.run_store import RunStore

    device = resolve_device(device)
    out = []
    for path in run_dirs(runs):
        try:
            store = RunStore.open(path)
        except LandscapeError as exc:
            out.append(PredictSummary(path.name, path, problem=str(exc)))
            continue
        summary = PredictSummary(store.run_id, store.path)
        out.append(summary)
        if not store.has_manifest:
            continue
        try:
            _fill_run(store, summary, splits, device, force, batch_size, masks_per_forward, progress)
        except LandscapeError as exc:  # a missing dataset file, a run that cannot be rebuilt
            summary.problem = str(exc).splitlines()[0]
    return out


def _fill_run(store, summary, splits, device, force, batch_size, masks_per_forward, progress) -> None:
    from tqdm.auto import tqdm

    from landscape.search.runner import load_dataset
    from landscape.store.rebuild import rebuild_problem

    records = store.records()
    index = store.predictions_index()
    todo: dict[int, list[int]] = {}
    for w, s in zip(records["weight_seed"], records["search_seed"]):
        key = f"w{int(w)}-s{int(s)}"
        if not force and key in index and all(sp in index[key]["splits"] for sp in splits):
            summary.present += 1
        else:
            todo.setdefault(int(w), []).append(int(s))
    if not todo:
        return
    problem = rebuild_problem(store) or rebuild_problem(store, "data")
    if problem:
        summary.problem = problem
        return
    dataset = load_dataset(store.config.data)
    # every split stored before is evaluated again too: an entry is replaced as a whole, and
    # re-evaluating some splits must not lose the others
    held = [sp for e in index.values() for sp in e.get("splits", {}) if sp not in splits]
    wanted = [*splits, *dict.fromkeys(held)]
    if not any(len(getattr(dataset, name)[1]) for name in splits):
        summary.problem = f"run {store.run_id}: the splits {', '.join(splits)} hold no examples"
        return
    data = {name: _on(getattr(dataset, name), device) for name in wanted}  # empty ones listed with 0
    recorded = records.set_index(["weight_seed", "search_seed"])
    chunks = [
        (w, seeds[i : i + masks_per_forward])
        for w, seeds in todo.items()
        for i in range(0, len(seeds), masks_per_forward)
    ]
    for w, seeds in tqdm(chunks, desc=f"predict {store.run_id}", disable=not progress, leave=False):
        model = store.build_model(w, seeds, device=device)
        for seed, outputs in zip(seeds, split_predictions(model, data, batch_size)):
            store.save_predictions(w, seed, outputs, source="re-evaluated")
            summary.evaluated += 1
            for name, values in outputs.items():
                column = f"{name}_acc"
                if column not in recorded.columns or not len(values["labels"]):
                    continue
                expected = pd.to_numeric(recorded.loc[(w, seed), column], errors="coerce")
                if np.isfinite(expected):
                    diff = abs(float(np.mean(values["pred"] == values["labels"])) - float(expected))
                    summary.max_acc_difference[name] = max(summary.max_acc_difference.get(name, 0.0), diff)
    log.info("%s: predictions of %d masks evaluated", store.run_id, summary.evaluated)


def _on(split: tuple[torch.Tensor, torch.Tensor], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = split
    return x.to(device), y.to(device)
