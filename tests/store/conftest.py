"""Fixtures for store tests: a tiny layout, a config and random packed masks."""

from __future__ import annotations

import numpy as np
import pytest

from landscape.config import SearchConfig
from landscape.store.layout import Layout
from landscape.store.packing import pack_flat
from landscape.store.run_store import RunStore

TINY = Layout([("fcs.0", (5, 13)), ("fcs.1", (3, 5)), ("fcs.2", (2, 3))])


def _random_rows(n: int, layout: Layout = TINY, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random masks: packed rows and the bool masks they encode."""
    rng = np.random.default_rng(seed)
    dense = rng.random((n, layout.n_weights)) < 0.5
    return pack_flat(dense, layout), dense


def _make_records(pairs, epochs: int = 3) -> list[dict]:
    return [
        {
            "weight_seed": w,
            "search_seed": s,
            "test_acc": 0.5 + 0.01 * s,
            "val_acc": 0.4 + 0.01 * w,
            "curves": {"train_loss": [1.0 / (e + 1) for e in range(epochs)], "lr": [0.1] * epochs},
        }
        for w, s in pairs
    ]


@pytest.fixture
def layout() -> Layout:
    return TINY


@pytest.fixture
def cfg() -> SearchConfig:
    return SearchConfig().replace(**{"train.epochs": 3, "model.hidden": [5, 3]})


@pytest.fixture
def store(tmp_path, cfg, layout) -> RunStore:
    return RunStore.create(tmp_path / "runs", cfg, layout, data_info={"input_shape": [13], "n_classes": 2})


@pytest.fixture
def random_rows():
    """``random_rows(n, layout=TINY, seed=0) -> (packed rows, bool masks)``."""
    return _random_rows


@pytest.fixture
def make_records():
    """``make_records(pairs, epochs=3) -> list of per-mask records with curves``."""
    return _make_records
