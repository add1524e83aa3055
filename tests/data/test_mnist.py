"""MNIST idx loader on tiny files written in the real format."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscape.config import DataConfig
from landscape.data.mnist import MEAN, STD, load_mnist
from landscape.errors import DataError


def cfg(root, **kw) -> DataConfig:
    return DataConfig(name="mnist", root=str(root), **kw)


def normalised(pixels: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(pixels.astype(np.float32)) / 255 - MEAN) / STD


def test_shapes_values_and_labels(mnist_root):
    root, arrays = mnist_root
    ds = load_mnist(cfg(root, val_fraction=0.0))
    assert ds.input_shape == (1, 28, 28) and ds.n_classes == 10 and ds.augment is None
    x, y = ds.train
    assert x.shape == (30, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    torch.testing.assert_close(x[:, 0], normalised(arrays["train_x"]))
    assert y.tolist() == arrays["train_y"].tolist()
    torch.testing.assert_close(ds.test[0][:, 0], normalised(arrays["test_x"]))
    assert ds.test[1].tolist() == arrays["test_y"].tolist()
    assert ds.val[0].shape == (0, 1, 28, 28)


def test_val_split_is_stratified_disjoint_and_seeded(mnist_root):
    root, arrays = mnist_root
    ds = load_mnist(cfg(root, val_fraction=0.2, split_seed=3))
    assert ds.sizes == {"train": 24, "val": 6, "test": 10}
    # every image appears in exactly one of train/val
    rows = torch.cat([ds.train[0], ds.val[0]]).reshape(30, -1)
    ref = normalised(arrays["train_x"]).reshape(30, -1)
    assert torch.equal(rows.sort(0).values, ref.sort(0).values)
    assert len(set(ds.val[1].tolist())) == 6  # 6 of 10 classes, each at most once
    again = load_mnist(cfg(root, val_fraction=0.2, split_seed=3))
    assert torch.equal(again.val[0], ds.val[0])
    other = load_mnist(cfg(root, val_fraction=0.2, split_seed=4))
    assert not torch.equal(other.val[0], ds.val[0])


def test_gzipped_files_give_the_same_data(tmp_path, files):
    arrays = files.mnist(tmp_path / "plain" / "mnist", seed=1)
    files.mnist(tmp_path / "gz" / "mnist", seed=1, gz=True)
    assert not (tmp_path / "gz" / "mnist" / "train-images-idx3-ubyte").exists()
    a = load_mnist(cfg(tmp_path / "plain"))
    b = load_mnist(cfg(tmp_path / "gz"))
    for (xa, ya), (xb, yb) in zip(a.splits().values(), b.splits().values()):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert a.test[1].tolist() == arrays["test_y"].tolist()


def test_root_may_point_at_the_mnist_folder(mnist_root):
    root, _ = mnist_root
    assert load_mnist(cfg(root / "mnist")).sizes["test"] == 10


def test_environment_variable_gives_default_root(mnist_root, monkeypatch):
    root, _ = mnist_root
    monkeypatch.setenv("LANDSCAPE_DATA", str(root))
    assert load_mnist(DataConfig(name="mnist")).sizes["train"] == 24


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError) as err:
        load_mnist(cfg(tmp_path))
    msg = str(err.value)
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte(.gz)") in msg
    assert "data.root" in msg and "\n" not in msg


def test_missing_test_labels_named(mnist_root):
    root, _ = mnist_root
    (root / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_mnist(cfg(root))


def test_bad_magic_names_the_file(mnist_root, files):
    root, arrays = mnist_root
    path = files.idx(root / "mnist" / "train-labels-idx1-ubyte", arrays["train_y"], 0x803)
    with pytest.raises(DataError, match="magic") as err:
        load_mnist(cfg(root))
    assert str(path) in str(err.value)


def test_truncated_file_names_the_file(mnist_root):
    root, _ = mnist_root
    path = root / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated") as err:
        load_mnist(cfg(root))
    assert str(path) in str(err.value)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="truncated"):
        load_mnist(cfg(root))


def test_corrupt_gzip_names_the_file(tmp_path, files):
    files.mnist(tmp_path / "mnist", gz=True)
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError) as err:
        load_mnist(cfg(tmp_path))
    assert str(path) in str(err.value)


def test_label_count_mismatch(mnist_root, files):
    root, _ = mnist_root
    files.idx(root / "mnist" / "train-labels-idx1-ubyte", np.zeros(29, np.uint8), 0x801)
    with pytest.raises(DataError, match="29 labels for 30 images"):
        load_mnist(cfg(root))
