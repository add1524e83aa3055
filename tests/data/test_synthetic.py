"""Synthetic dataset: shapes, seeding, balance and learnability."""

from __future__ import annotations

import torch

from landscape.config import DataConfig
from landscape.data.augment import CropFlip
from landscape.data.synthetic import load_synthetic
from landscape.nn.init import generator


def cfg(**kw) -> DataConfig:
    base = {"name": "synthetic", "input_shape": (1, 8, 8), "n_train": 400, "n_test": 200, "augment": False}
    return DataConfig(**{**base, **kw})


def nearest_mean_accuracy(train, test, n_classes):
    (xtr, ytr), (xte, yte) = train, test
    means = torch.stack([xtr[ytr == c].reshape((ytr == c).sum(), -1).mean(0) for c in range(n_classes)])
    pred = torch.cdist(xte.reshape(len(xte), -1), means).argmin(1)
    return (pred == yte).float().mean().item()


def test_shapes_sizes_and_balance():
    ds = load_synthetic(cfg(n_classes=4, val_fraction=0.25))
    assert ds.sizes == {"train": 300, "val": 100, "test": 200}
    assert ds.input_shape == (1, 8, 8) and ds.n_classes == 4
    assert ds.train[0].dtype == torch.float32 and ds.train[1].dtype == torch.int64
    assert torch.bincount(ds.val[1]).tolist() == [25] * 4
    assert torch.bincount(ds.test[1]).tolist() == [50] * 4
    assert 0.8 < ds.train[0].std().item() < 1.2 and abs(ds.train[0].mean().item()) < 0.1


def test_seeded_by_split_seed():
    a, b, c = load_synthetic(cfg()), load_synthetic(cfg()), load_synthetic(cfg(split_seed=1))
    assert torch.equal(a.train[0], b.train[0]) and torch.equal(a.test[1], b.test[1])
    assert not torch.equal(a.train[0], c.train[0])


def test_learnable_by_a_linear_model():
    from sklearn.linear_model import LogisticRegression

    ds = load_synthetic(cfg(input_shape=(32,), n_train=500, val_fraction=0.0))
    clf = LogisticRegression(max_iter=200).fit(ds.train[0].numpy(), ds.train[1].numpy())
    assert clf.score(ds.test[0].numpy(), ds.test[1].numpy()) > 0.6  # chance is 0.1


def test_image_labels_survive_crop_and_flip():
    ds = load_synthetic(cfg(input_shape=(3, 32, 32), augment=True, n_train=300))
    assert isinstance(ds.augment, CropFlip)
    x, y = ds.test
    augmented = ds.augment(x.unsqueeze(0), [generator(0, "augment", 0)])[0]
    assert nearest_mean_accuracy(ds.train, (x, y), 10) > 0.6
    assert nearest_mean_accuracy(ds.train, (augmented, y), 10) > 0.5


def test_augment_only_for_three_channel_images():
    assert load_synthetic(cfg(input_shape=(3, 16, 16), augment=False)).augment is None
    assert load_synthetic(cfg(input_shape=(1, 16, 16), augment=True)).augment is None
    assert load_synthetic(cfg(input_shape=(48,), augment=True)).augment is None
