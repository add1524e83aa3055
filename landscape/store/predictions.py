"""Per-mask predictions of a run: each mask's outputs on the validation and test splits.

``<run>/predictions/w<weight_seed>-s<search_seed>-<sha12>.npz`` holds, per split,
``<split>_logprob`` (float16 ``(N, n_classes)``: log-softmax of the logits),
``<split>_pred`` (the class the float32 logits pick, ``(N,)``) and ``<split>_labels``
(``(N,)``). ``<run>/predictions.json`` lists every file with its sha256 and size: a file
counts only once the index lists it, and a reader verifies it against that checksum (once per
process, like the mask shards), so a half-written or corrupt file is never taken for a finished
one. Files carry a prefix of their checksum in their name, so replacing a mask's predictions
never overwrites a file a reader may be verifying.

A search writes the predictions of its masks before it stores the masks themselves; runs
searched before predictions were kept get them by re-evaluation of the rebuilt networks
(:func:`landscape.search.predict.fill_predictions`, ``landscape predict RUNS``).

float16 log-probabilities keep ``exp`` within 0.1% of the float32 ones, which is far below
any difference between masks; the predicted class is stored from the float32 logits, so
accuracies and agreements computed from the stored files are exact.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from landscape.errors import StoreError
from landscape.store import _io
from landscape.store.claims import file_lock
from landscape.store.shards import verify_file

FOLDER, INDEX = "predictions", "predictions.json"
INDEX_FORMAT = 1
SPLITS = ("val", "test")
FIELDS = ("logprob", "pred", "labels")


def mask_key(weight_seed: int, search_seed: int) -> str:
    """Index key of one mask: ``"w<weight_seed>-s<search_seed>"``."""
    return f"w{int(weight_seed)}-s{int(search_seed)}"


def _class_dtype(n_classes: int) -> np.dtype:
    return np.dtype(np.int16) if n_classes <= np.iinfo(np.int16).max else np.dtype(np.int32)


def check_split(name: str, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate one split's arrays and convert them to the stored dtypes."""
    missing = [f for f in FIELDS if f not in outputs]
    if missing:
        raise ValueError(f"predictions of split {name!r} lack {missing}")
    logprob = np.asarray(outputs["logprob"])
    pred, labels = np.asarray(outputs["pred"]), np.asarray(outputs["labels"])
    if logprob.ndim != 2 or pred.shape != (logprob.shape[0],) or labels.shape != pred.shape:
        raise ValueError(
            f"predictions of split {name!r}: logprob {logprob.shape}, pred {pred.shape} and labels "
            f"{labels.shape} do not describe N examples of one set of classes"
        )
    n_classes = logprob.shape[1]
    for what, values in (("pred", pred), ("labels", labels)):
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise ValueError(f"predictions of split {name!r}: {what} outside 0..{n_classes - 1}")
    dtype = _class_dtype(n_classes)
    return {
        "logprob": logprob.astype(np.float16),
        "pred": pred.astype(dtype),
        "labels": labels.astype(dtype),
    }


class PredictionFiles:
    """Mixed into :class:`~landscape.store.run_store.RunStore` (needs ``path`` and ``run_id``)."""

    path: Path
    run_id: str

    # index ------------------------------------------------------------------------------------
    def predictions_index(self) -> dict[str, dict[str, Any]]:
        """``{"w<w>-s<s>": entry}`` of every listed predictions file (empty when none)."""
        path = self.path / INDEX
        if not path.exists():
            return {}
        data = _io.read_json(path)
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, dict) or not all(_valid_entry(e) for e in files.values()):
            raise StoreError(f"{path}: malformed predictions index")
        return files

    def has_predictions(self, weight_seed: int, search_seed: int, split: str | None = None) -> bool:
        """Whether the index lists predictions of this mask (on a non-empty ``split``, when given)."""
        entry = self.predictions_index().get(mask_key(weight_seed, search_seed))
        return entry is not None and (split is None or bool(entry["splits"].get(split)))

    # writing ----------------------------------------------------------------------------------
    def save_predictions(
        self,
        weight_seed: int,
        search_seed: int,
        splits: dict[str, dict[str, np.ndarray]],
        source: str = "search",
    ) -> dict[str, Any]:
        """Store one mask's predictions ``{split: {"logprob", "pred", "labels"}}``; returns the
        index entry. An empty split (no validation split) is listed with 0 examples. ``source`` says how
        they were made (``"search"``, ``"re-evaluated"``)."""
        arrays, sizes, accuracy, n_classes = {}, {}, {}, None
        for name, outputs in splits.items():
            checked = check_split(name, outputs)
            if not len(checked["labels"]):
                sizes[name] = 0  # evaluated, but the split is empty (no validation split)
                continue
            if n_classes is not None and checked["logprob"].shape[1] != n_classes:
                raise ValueError("predictions of the splits disagree on the number of classes")
            n_classes = checked["logprob"].shape[1]
            for field_name, values in checked.items():
                arrays[f"{name}_{field_name}"] = values
            sizes[name] = int(len(checked["labels"]))
            accuracy[name] = float(np.mean(checked["pred"] == checked["labels"]))
        if not arrays:
            raise ValueError("no predictions to store (every split is empty)")
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        data = buf.getvalue()
        sha = _io.sha256_bytes(data)
        key = mask_key(weight_seed, search_seed)
        folder = self.path / FOLDER
        folder.mkdir(exist_ok=True)
        name = f"{key}-{sha[:12]}.npz"
        _io.write_atomic(folder / name, data)
        entry = {
            "file": name,
            "sha256": sha,
            "bytes": len(data),
            "splits": sizes,
            "n_classes": int(n_classes),
            "accuracy": accuracy,
            "source": str(source),
        }
        with file_lock(self.path / ".predictions.lock"):
            files = self.predictions_index()
            previous = files.get(key)
            files[key] = entry
            _io.write_json(self.path / INDEX, {"format": INDEX_FORMAT, "run_id": self.run_id, "files": files})
        if previous is not None and previous["file"] != name:
            (folder / previous["file"]).unlink(missing_ok=True)
        return entry

    def drop_predictions(self, file_name: str) -> None:
        """Unlist the predictions file ``file_name`` (the file itself stays where it is)."""
        with file_lock(self.path / ".predictions.lock"):
            files = self.predictions_index()
            kept = {k: e for k, e in files.items() if e["file"] != file_name}
            if len(kept) != len(files):
                _io.write_json(
                    self.path / INDEX, {"format": INDEX_FORMAT, "run_id": self.run_id, "files": kept}
                )

    # reading ----------------------------------------------------------------------------------
    def load_predictions(
        self, weight_seed: int, search_seed: int, split: str = "test", index: dict | None = None
    ) -> dict[str, np.ndarray]:
        """``{"logprob": float16 (N, C), "pred": (N,), "labels": (N,)}`` of one mask and split,
        verified against the index (``index``: :meth:`predictions_index` already read, so a
        caller loading many masks parses it once); :class:`StoreError` naming the file or the
        fix otherwise."""
        key = mask_key(weight_seed, search_seed)
        entry = (self.predictions_index() if index is None else index).get(key)
        if entry is None:
            raise StoreError(
                f"run {self.run_id}: no stored predictions for weight seed {weight_seed}, search seed "
                f"{search_seed} (run `landscape predict {self.path.parent}` to evaluate the stored masks)"
            )
        if not entry["splits"].get(split):
            stored = ", ".join(k for k, v in entry["splits"].items() if v) or "none"
            raise StoreError(
                f"run {self.run_id}, {key}: no predictions on the {split!r} split (stored: {stored})"
            )
        path = self.path / FOLDER / entry["file"]
        verify_file(path, entry["sha256"], entry["bytes"])
        try:
            with np.load(path) as npz:
                return {f: npz[f"{split}_{f}"] for f in FIELDS}
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise StoreError(f"{path}: unreadable predictions ({type(exc).__name__})") from None

    def verify_predictions(self) -> int:
        """Check every listed predictions file against its checksum; returns how many there are."""
        files = self.predictions_index()
        for entry in files.values():
            verify_file(self.path / FOLDER / entry["file"], entry["sha256"], entry["bytes"])
        return len(files)


def size_problem(run: Path, entry: dict) -> str | None:
    """What is wrong with the predictions file an index ``entry`` of ``run`` lists, without
    hashing it: missing, or of another size than listed; None when it looks in place."""
    path = Path(run) / FOLDER / entry["file"]
    try:
        size = os.stat(path).st_size
    except OSError:
        return f"{path}: missing"
    return None if size == entry["bytes"] else f"{path}: {size} bytes, listed with {entry['bytes']}"


def _valid_entry(e: Any) -> bool:
    try:
        return (
            isinstance(e["file"], str)
            and "/" not in e["file"]
            and not e["file"].startswith(".")
            and isinstance(e["sha256"], str)
            and type(e["bytes"]) is int
            and isinstance(e["splits"], dict)
            and all(type(v) is int for v in e["splits"].values())
        )
    except (KeyError, TypeError):
        return False
