"""MNIST from the four standard idx files (optionally gzipped)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from landscape.config import DataConfig
from landscape.data.dataset import Dataset
from landscape.data.files import find_folder, missing
from landscape.data.splits import split_rng, stratified_split
from landscape.errors import DataError

MEAN, STD = 0.1307, 0.3081
INPUT_SHAPE = (1, 28, 28)
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801  # ubyte data, 3 resp. 1 dimensions


def load_mnist(cfg: DataConfig) -> Dataset:
    """Load MNIST from ``<root>/mnist`` (or ``<root>`` itself), ``root`` being ``data.root``,
    ``$LANDSCAPE_DATA`` or ``./data``.

    The validation split is carved from the 60,000 training images (``data.val_fraction``,
    stratified, fixed by ``data.split_seed``); the test split is the 10,000 t10k images
    (``data.test_fraction`` does not apply). Pixels are scaled to [0, 1] and normalised with
    mean 0.1307 and std 0.3081. No augmentation.
    """
    folder = find_folder(cfg, "mnist", FILES["train"][0])
    x_train, y_train = _read_pair(folder, *FILES["train"])
    x_test, y_test = _read_pair(folder, *FILES["test"])
    train, val = stratified_split(y_train, (cfg.val_fraction,), split_rng(cfg.split_seed, "mnist"))
    return Dataset(
        name="mnist",
        input_shape=INPUT_SHAPE,
        n_classes=10,
        train=_tensors(x_train[train], y_train[train]),
        val=_tensors(x_train[val], y_train[val]),
        test=_tensors(x_test, y_test),
    )


def _tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(images.astype(np.float32)).div_(255.0).sub_(MEAN).div_(STD)
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def _read_pair(folder: Path, image_name: str, label_name: str) -> tuple[np.ndarray, np.ndarray]:
    images_path, images = read_idx(folder, image_name, IMAGE_MAGIC)
    labels_path, labels = read_idx(folder, label_name, LABEL_MAGIC)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{images_path}: MNIST images must be 28x28, got {images.shape[1:]}")
    if len(images) != len(labels):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path}: labels must be 0..9, found {int(labels.max())}")
    return images, labels


def read_idx(folder: Path, name: str, magic: int) -> tuple[Path, np.ndarray]:
    """Read the idx file ``folder/name`` (or ``name.gz``) of ubyte data; returns its path and
    the array, checking the magic number and that the data fills the declared shape."""
    path = folder / name
    if not path.exists():
        path = folder / f"{name}.gz"
    if not path.exists():
        raise missing(folder / f"{name}(.gz)", "MNIST file", f"put the four MNIST idx files in {folder}")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read MNIST file ({exc})") from None
    n_dims = magic & 0xFF
    header = 4 + 4 * n_dims
    if len(raw) < header:
        raise DataError(f"{path}: truncated MNIST idx file ({len(raw)} bytes, header needs {header})")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"{path}: not an MNIST idx file (magic number {found:#010x}, expected {magic:#010x})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    size = int(np.prod(shape))
    if len(raw) != header + size:
        raise DataError(
            f"{path}: truncated or oversized MNIST idx file ({len(raw) - header} data bytes, "
            f"shape {shape} needs {size})"
        )
    return path, np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
