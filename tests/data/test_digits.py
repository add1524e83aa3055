"""Digits: split sizes, stratification, seeding and standardisation."""

from __future__ import annotations

import numpy as np
import torch

from landscape.config import DataConfig
from landscape.data import Dataset, load_dataset
from landscape.data.digits import load_digits, read_digits


def test_default_split_sizes_and_types():
    ds = load_digits(DataConfig())
    assert isinstance(ds, Dataset) and ds.augment is None
    assert ds.input_shape == (1, 8, 8) and ds.n_classes == 10
    assert ds.sizes == {"train": 1079, "val": 359, "test": 359}
    assert ds.train[0].shape == (1079, 1, 8, 8)
    assert ds.train[0].dtype == torch.float32 and ds.train[1].dtype == torch.int64


def test_stratified_per_class():
    _, y = read_digits()
    class_sizes = np.bincount(y)
    ds = load_digits(DataConfig(val_fraction=0.2, test_fraction=0.2))
    for split in ("val", "test"):
        counts = torch.bincount(ds.splits()[split][1], minlength=10).numpy()
        assert np.all(np.abs(counts - 0.2 * class_sizes) <= 1)
    total = sum(torch.bincount(s[1], minlength=10) for s in ds.splits().values())
    assert total.tolist() == class_sizes.tolist()


def test_split_fixed_by_split_seed():
    a = load_digits(DataConfig(split_seed=1))
    b = load_digits(DataConfig(split_seed=1))
    c = load_digits(DataConfig(split_seed=2))
    assert torch.equal(a.test[0], b.test[0]) and torch.equal(a.val[1], b.val[1])
    assert not torch.equal(a.test[0], c.test[0])


def test_standardised_with_training_statistics():
    ds = load_digits(DataConfig())
    x = ds.train[0].reshape(len(ds.train[0]), -1).double()
    std = x.std(0, unbiased=False)
    varying = std > 0
    assert torch.allclose(x.mean(0), torch.zeros(64, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(std[varying], torch.ones(int(varying.sum()), dtype=torch.float64), atol=1e-5)
    assert (~varying).any()  # some border pixels are blank in every training image...
    assert torch.all(x[:, ~varying] == 0)  # ...and stay 0 rather than NaN
    assert torch.isfinite(ds.val[0]).all() and torch.isfinite(ds.test[0]).all()
    # held-out rows reuse the training statistics, so they are not exactly centred
    assert ds.test[0].reshape(359, -1).mean(0).abs().max() > 1e-3


def test_other_fractions_and_empty_val():
    ds = load_digits(DataConfig(val_fraction=0.0, test_fraction=0.5))
    assert ds.sizes["val"] == 0 and ds.val[0].shape == (0, 1, 8, 8)
    assert ds.sizes["test"] == round(0.5 * 1797)


def test_reads_the_same_data_as_scikit_learn():
    from sklearn.datasets import load_digits as sk_digits

    x, y = read_digits()
    bunch = sk_digits()
    assert np.array_equal(x, bunch.data) and np.array_equal(y, bunch.target)


def test_load_dataset_dispatches_by_name():
    assert load_dataset(DataConfig(name="digits")).name == "digits"
    assert load_dataset(DataConfig(name="synthetic", n_train=50, n_test=20)).name == "synthetic"
