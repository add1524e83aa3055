"""CIFAR-10 pickle-batch loader on tiny batches written in the real format."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from landscape.config import DataConfig
from landscape.data.augment import CropFlip
from landscape.data.cifar import MEAN, STD, load_cifar10
from landscape.errors import DataError


def cfg(root, **kw) -> DataConfig:
    return DataConfig(name="cifar10", root=str(root), **kw)


def expected_images(data: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32).astype(np.float32)) / 255
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def test_shapes_values_and_labels(cifar_root):
    root, batches = cifar_root
    ds = load_cifar10(cfg(root, val_fraction=0.0, augment=False))
    assert ds.input_shape == (3, 32, 32) and ds.augment is None
    assert ds.sizes == {"train": 100, "val": 0, "test": 20}
    train_data = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    torch.testing.assert_close(ds.train[0], expected_images(train_data))
    assert ds.train[1].dtype == torch.int64
    assert ds.train[1].tolist() == sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    torch.testing.assert_close(ds.test[0], expected_images(batches["test_batch"][b"data"]))
    # row layout: 1024 red, then green, then blue values, each row-major 32x32
    raw = batches["test_batch"][b"data"][3]
    assert ds.test[0][3, 1, 2, 5] == pytest.approx(
        (raw[1024 + 2 * 32 + 5] / 255 - MEAN[1]) / STD[1], abs=1e-6
    )


def test_val_split_from_train_never_test(cifar_root):
    root, batches = cifar_root
    ds = load_cifar10(cfg(root, val_fraction=0.2, split_seed=5))
    assert ds.sizes == {"train": 80, "val": 20, "test": 20}
    assert torch.bincount(ds.val[1], minlength=10).tolist() == [2] * 10
    train_data = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    pool = expected_images(train_data).reshape(100, -1)
    both = torch.cat([ds.train[0], ds.val[0]]).reshape(100, -1)
    assert torch.equal(both.sort(0).values, pool.sort(0).values)
    assert isinstance(ds.augment, CropFlip)


def test_protocol_5_pickles_load(tmp_path, files):
    files.cifar(tmp_path / "cifar-10-batches-py", per_batch=10, protocol=5)
    assert load_cifar10(cfg(tmp_path)).sizes["test"] == 10


def test_root_may_point_at_the_batches_folder(cifar_root):
    root, _ = cifar_root
    assert load_cifar10(cfg(root / "cifar-10-batches-py")).sizes["test"] == 20


def test_missing_folder_names_the_path(tmp_path):
    with pytest.raises(DataError) as err:
        load_cifar10(cfg(tmp_path))
    msg = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in msg
    assert "data.root" in msg and "\n" not in msg


def test_missing_batch_names_it(cifar_root):
    root, _ = cifar_root
    (root / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3"):
        load_cifar10(cfg(root))


@pytest.mark.parametrize(
    "content",
    [
        b"garbage, not a pickle",
        pickle.dumps([1, 2, 3]),
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}),
        pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}),
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}),
    ],
)
def test_corrupt_batch_names_the_file(cifar_root, content):
    root, _ = cifar_root
    path = root / "cifar-10-batches-py" / "data_batch_2"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        load_cifar10(cfg(root))
    assert str(path) in str(err.value)


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickle_cannot_run_code(cifar_root, capsys):
    root, _ = cifar_root
    path = root / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": []}))
    with pytest.raises(DataError, match="unexpected object builtins.print") as err:
        load_cifar10(cfg(root))
    assert str(path) in str(err.value)
    assert "never run" not in capsys.readouterr().out


def test_the_crop_pads_with_black_as_a_crop_of_the_raw_image_then_normalised(cifar_root):
    """torchvision's RandomCrop(32, padding=4) pads the raw image with 0 (black) before
    Normalize: once normalised, the padding is -mean/std per channel, not 0 (the mean colour)."""
    root, batches = cifar_root
    ds = load_cifar10(cfg(root, val_fraction=0.0, augment=True))
    raw = batches["data_batch_1"][b"data"][:4].reshape(4, 3, 32, 32).astype(np.float32)
    x = ds.train[0][:4].unsqueeze(0)
    offsets = torch.tensor([[[0, 0], [8, 8], [0, 8], [3, 5]]])
    flips = torch.tensor([[False, False, True, False]])
    out = ds.augment.apply(x, offsets, flips)[0]
    # the reference: pad the raw pixels with 0, crop, flip, then normalise
    padded = np.pad(raw, ((0, 0), (0, 0), (4, 4), (4, 4)))
    for k, ((oy, ox), flip) in enumerate(zip(offsets[0].tolist(), flips[0].tolist())):
        crop = padded[k, :, oy : oy + 32, ox : ox + 32]
        crop = crop[:, :, ::-1] if flip else crop
        want = (torch.from_numpy(crop.copy()) / 255 - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(
            STD
        ).view(3, 1, 1)
        torch.testing.assert_close(out[k], want, rtol=0, atol=1e-6)
    assert out[0, :, 0, 0].tolist() == pytest.approx([-m / s for m, s in zip(MEAN, STD)])
