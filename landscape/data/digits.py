"""scikit-learn's bundled 8x8 digits (1,797 images, 10 classes): works offline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from landscape.config import DataConfig
from landscape.data.dataset import Dataset
from landscape.data.splits import split_rng, standardise, stratified_split

INPUT_SHAPE = (1, 8, 8)


def load_digits(cfg: DataConfig) -> Dataset:
    """Load digits as ``(N, 1, 8, 8)`` images with a stratified train/val/test split.

    The split is fixed by ``data.split_seed`` with ``data.val_fraction`` and
    ``data.test_fraction`` of the rows held out (default 60/20/20). Every pixel is
    standardised with the training rows' mean and std (constant pixels keep std 1). There is
    no augmentation.
    """
    x, y = read_digits()
    train, val, test = stratified_split(
        y, (cfg.val_fraction, cfg.test_fraction), split_rng(cfg.split_seed, "digits")
    )
    xs = standardise(x[train], x[val], x[test])
    return Dataset(
        name="digits",
        input_shape=INPUT_SHAPE,
        n_classes=10,
        train=_pair(xs[0], y[train]),
        val=_pair(xs[1], y[val]),
        test=_pair(xs[2], y[test]),
    )


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as ``(x float64 (N, 64) in 0..16, y int64 (N,))``.

    Reads the CSV that scikit-learn ships directly: importing scikit-learn takes seconds,
    parsing its file a few milliseconds. Falls back to ``sklearn.datasets.load_digits``.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
        if path.exists():
            table = np.loadtxt(path, delimiter=",")
            if table.shape == (1797, 65):
                return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(x.reshape(-1, *INPUT_SHAPE)), torch.from_numpy(y)
