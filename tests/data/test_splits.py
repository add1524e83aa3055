"""Stratified splits, standardisation and the Dataset container."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscape.data.dataset import Dataset
from landscape.data.splits import split_rng, standardise, stratified_split


def test_exact_sizes_disjoint_and_complete():
    y = np.repeat(np.arange(5), [10, 20, 30, 7, 33])
    rest, val, test = stratified_split(y, (0.2, 0.1), split_rng(0, "t"))
    assert len(val) == 20 and len(test) == 10 and len(rest) == 70
    everything = np.concatenate([rest, val, test])
    assert sorted(everything.tolist()) == list(range(100))
    for part, frac in ((val, 0.2), (test, 0.1)):
        counts = np.bincount(y[part], minlength=5)
        assert np.all(np.abs(counts - frac * np.bincount(y)) < 1 + 1e-9)
        assert np.all(np.diff(part) > 0)  # sorted indices


def test_seeded():
    y = np.arange(200) % 7
    a = stratified_split(y, (0.3,), split_rng(4, "x"))
    b = stratified_split(y, (0.3,), split_rng(4, "x"))
    c = stratified_split(y, (0.3,), split_rng(5, "x"))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    assert not np.array_equal(a[1], stratified_split(y, (0.3,), split_rng(4, "other"))[1])


def test_tiny_classes_never_overdrawn():
    y = np.array([0, 1, 2, 3, 3, 3, 3, 3, 3, 3])
    rest, val, test = stratified_split(y, (0.4, 0.4), split_rng(0, "t"))
    assert len(val) == 4 and len(test) == 4 and len(rest) == 2
    assert len(set(np.concatenate([rest, val, test]).tolist())) == 10


def test_zero_fraction_gives_empty_part():
    rest, val = stratified_split(np.arange(10) % 2, (0.0,), split_rng(0, "t"))
    assert len(val) == 0 and len(rest) == 10


def test_standardise_uses_train_statistics_and_keeps_constant_features():
    train = np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    other = np.array([[2.0, 6.0]])
    t, o = standardise(train, other)
    assert t.dtype == np.float32
    np.testing.assert_allclose(t[:, 0], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    np.testing.assert_allclose(t[:, 1], 0.0)
    np.testing.assert_allclose(o, [[0.0, 1.0]])  # constant feature: std 1


def test_dataset_checks_shapes_and_reports_sizes():
    x, y = torch.zeros(4, 2, 3), torch.zeros(4, dtype=torch.int64)
    empty = (torch.zeros(0, 2, 3), torch.zeros(0, dtype=torch.int64))
    ds = Dataset("toy", (2, 3), 2, (x, y), empty, (x, y))
    assert ds.sizes == {"train": 4, "val": 0, "test": 4}
    assert "train=4" in repr(ds)
    with pytest.raises(ValueError, match="val split"):
        Dataset("toy", (2, 3), 2, (x, y), (torch.zeros(3, 3, 3), y[:3]), (x, y))
