"""MaskSet.write: a MaskSet built in Python becomes a run that read_runs gives back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import landscape as ls
from landscape.errors import ConfigError, DataError
from landscape.maskset import MaskSet
from landscape.store import Layout, RunStore

LAYOUT = Layout([("fcs.0", (16, 12)), ("fcs.1", (8, 16)), ("fcs.2", (3, 8))])


def exact(n: int, density: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros((n, LAYOUT.n_weights), bool)
    start = 0
    for spec in LAYOUT:
        for i in range(n):
            out[i, start + rng.permutation(spec.numel)[: round(density * spec.numel)]] = True
        start += spec.numel
    return out


def test_write_then_read_back(tmp_path):
    dense = exact(4, 0.5)
    obs = pd.DataFrame(
        {"weight_seed": [0, 0, 1, 1], "search_seed": [0, 1, 0, 1], "test_acc": [0.9, 0.8, 0.7, np.nan]},
        index=[f"m{i}" for i in range(4)],
    )
    ms = MaskSet.from_dense(dense, LAYOUT, obs)
    summary = ms.write(
        tmp_path / "runs", {"method.name": "edge_popup", "model.name": "mlp", "model.hidden": [16, 8]}
    )
    assert (summary.added, summary.pairs) == (4, [(0, 0), (0, 1), (1, 0), (1, 1)])
    back = ls.read_runs(tmp_path / "runs")
    np.testing.assert_array_equal(back.dense(), dense)
    assert back.obs["weight_seed"].tolist() == [0, 0, 1, 1] and back.obs["density"].tolist() == [0.5] * 4
    assert back.obs["test_acc"].iloc[:3].tolist() == [0.9, 0.8, 0.7] and np.isnan(
        back.obs["test_acc"].iloc[3]
    )
    assert back.obs["origin.format"].iloc[0] == "maskset" and back.obs["model.name"].iloc[0] == "mlp"
    again = ms.write(
        tmp_path / "runs", {"method.name": "edge_popup", "model.name": "mlp", "model.hidden": [16, 8]}
    )
    assert (again.added, again.already) == (0, 4)
    assert RunStore.open(summary.path).config.run_id == again.run_id


def test_seeds_are_assigned_when_obs_has_none(tmp_path):
    ms = MaskSet.from_dense(exact(3, 0.25), LAYOUT)
    summary = ms.write(tmp_path / "runs")
    assert summary.pairs == [(0, 0), (0, 1), (0, 2)]
    store = RunStore.open(summary.path)
    assert (store.config.model.name, store.config.method.name, store.config.data.name) == ("external",) * 3
    assert store.config.method.density == 0.25
    more = MaskSet.from_dense(exact(1, 0.25, seed=9), LAYOUT).write(tmp_path / "runs")
    assert more.pairs == [(0, 3)]  # the next free search seed


def test_a_density_the_masks_do_not_keep(tmp_path):
    ms = MaskSet.from_dense(exact(2, 0.25), LAYOUT)
    with pytest.raises(
        DataError,
        match=r"mask 'mask0': keeps 86 of 344 weights \(0.2500\), which density 0.5 \(the given method.density\)",
    ):
        ms.write(tmp_path / "runs", {"method.density": 0.5})


def test_a_model_the_layout_does_not_fit(tmp_path):
    ms = MaskSet.from_dense(exact(2, 0.5), LAYOUT)
    with pytest.raises(ConfigError, match=r"model.name conv6: the imported layers do not fit it"):
        ms.write(tmp_path / "runs", {"model.name": "conv6"})
    with pytest.raises(ConfigError, match=r"model.hidden: the MaskSet's layout is mlp with hidden \[16, 8\]"):
        ms.write(tmp_path / "runs", {"model.name": "mlp"})
