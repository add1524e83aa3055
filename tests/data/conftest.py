"""Writers for tiny MNIST and CIFAR-10 files in their true on-disk formats."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest


def write_idx(path: Path, array: np.ndarray, magic: int, gz: bool = False) -> Path:
    """An idx file: big-endian magic, one big-endian uint32 per dimension, then the bytes."""
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def make_mnist(folder: Path, n_train: int = 30, n_test: int = 10, gz: bool = False, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_x": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_y": (np.arange(n_train) % 10).astype(np.uint8),
        "test_x": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_y": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    write_idx(folder / "train-images-idx3-ubyte", arrays["train_x"], 0x803, gz)
    write_idx(folder / "train-labels-idx1-ubyte", arrays["train_y"], 0x801, gz)
    write_idx(folder / "t10k-images-idx3-ubyte", arrays["test_x"], 0x803, gz)
    write_idx(folder / "t10k-labels-idx1-ubyte", arrays["test_y"], 0x801, gz)
    return arrays


def make_cifar(folder: Path, per_batch: int = 20, seed: int = 0, protocol: int = 2) -> dict:
    """Five training batches and a test batch shaped like ``cifar-10-batches-py``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in np.arange(per_batch) % 10],
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [f"img{i}.png".encode() for i in range(per_batch)],
        }
        with (folder / name).open("wb") as fh:
            pickle.dump(batch, fh, protocol=protocol)
        out[name] = batch
    return out


@pytest.fixture
def mnist_root(tmp_path):
    arrays = make_mnist(tmp_path / "mnist")
    return tmp_path, arrays


@pytest.fixture
def cifar_root(tmp_path):
    batches = make_cifar(tmp_path / "cifar-10-batches-py")
    return tmp_path, batches


@pytest.fixture
def files():
    """The writers, for tests that need files other than the default ones."""

    class Writers:
        idx = staticmethod(write_idx)
        mnist = staticmethod(make_mnist)
        cifar = staticmethod(make_cifar)

    return Writers


@pytest.fixture(autouse=True, scope="package")
def _one_thread():
    # the tensors here are tiny: intra-op threads only add synchronisation cost
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
