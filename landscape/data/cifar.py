"""CIFAR-10 from the python pickle batches (``cifar-10-batches-py``)."""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from landscape.config import DataConfig
from landscape.data.augment import CropFlip
from landscape.data.dataset import Dataset
from landscape.data.files import find_folder, missing
from landscape.data.splits import split_rng, stratified_split
from landscape.errors import DataError

MEAN = (0.491, 0.482, 0.447)
STD = (0.247, 0.243, 0.262)
#: a black pixel once normalised: the value the crop pads with
BLACK = tuple(-m / s for m, s in zip(MEAN, STD))
INPUT_SHAPE = (3, 32, 32)
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"


def load_cifar10(cfg: DataConfig) -> Dataset:
    """Load CIFAR-10 from ``<root>/cifar-10-batches-py`` (or ``<root>`` itself when it is that
    folder), ``root`` being ``data.root``, ``$LANDSCAPE_DATA`` or ``./data``.

    The validation split is carved from the 50,000 training images (``data.val_fraction``,
    stratified, fixed by ``data.split_seed``; 0 gives an empty validation split). Unlike the
    Edge-Popup reference code, which validates on the test set, the 10,000 test images are
    never used for model selection here; ``data.test_fraction`` does not apply. Images are
    normalised per channel with mean (0.491, 0.482, 0.447) and std (0.247, 0.243, 0.262).
    With ``data.augment`` the training loop applies a random 32 px crop of the image padded
    by 4 black pixels (``-mean / std`` once normalised, as the reference codes' ``RandomCrop``
    before ``Normalize``) and a horizontal flip, per example.
    """
    folder = find_folder(cfg, FOLDER, TEST_BATCH)
    train_parts = [read_batch(folder / name) for name in TRAIN_BATCHES]
    x_train = np.concatenate([x for x, _ in train_parts])
    y_train = np.concatenate([y for _, y in train_parts])
    x_test, y_test = read_batch(folder / TEST_BATCH)
    train, val = stratified_split(y_train, (cfg.val_fraction,), split_rng(cfg.split_seed, "cifar10"))
    return Dataset(
        name="cifar10",
        input_shape=INPUT_SHAPE,
        n_classes=10,
        train=_tensors(x_train[train], y_train[train]),
        val=_tensors(x_train[val], y_train[val]),
        test=_tensors(x_test, y_test),
        augment=CropFlip(pad=4, fill=BLACK) if cfg.augment else None,
    )


def _tensors(data: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(data.reshape(-1, *INPUT_SHAPE).astype(np.float32)).div_(255.0)
    x.sub_(torch.tensor(MEAN).view(1, 3, 1, 1)).div_(torch.tensor(STD).view(1, 3, 1, 1))
    return x, torch.from_numpy(labels)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch: ``(data uint8 (N, 3072), labels int64 (N,))``."""
    if not path.exists():
        raise missing(
            path,
            "CIFAR-10 batch",
            f"put the extracted python batches (cifar-10-python.tar.gz) in {path.parent}",
        )
    try:
        with path.open("rb") as fh:
            batch = _SafeUnpickler(fh, encoding="bytes").load()
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    except Exception as exc:  # any unpickling failure means the file is not a CIFAR batch
        raise DataError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
    return _check_batch(path, batch)


def _check_batch(path: Path, batch: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR-10 python batch (expected a dict, got {type(batch).__name__})")
    keys = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in keys or "labels" not in keys:
        raise DataError(f"{path}: CIFAR-10 batch lacks the 'data' or 'labels' entry (has {sorted(keys)})")
    data = np.asarray(keys["data"])
    labels = np.asarray(keys["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: CIFAR-10 data must be uint8 (N, 3072), got {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {labels.size} labels for {data.shape[0]} images")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels must be 0..9, found {int(labels.min())}..{int(labels.max())}")
    return data, labels.astype(np.int64)


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only, so a data file cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, "latin1")
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise DataError(f"unexpected object {module}.{name} in pickle")
        if module in ("numpy", "_codecs"):
            return getattr(importlib.import_module(module), name)
        # pickles written by numpy 1.x name numpy.core; numpy 2 moved it to numpy._core
        for candidate in (module.replace("numpy.core", "numpy._core"), module):
            try:
                return getattr(importlib.import_module(candidate), name)
            except (ImportError, AttributeError):
                continue
        raise DataError(f"cannot resolve {module}.{name} in pickle")
