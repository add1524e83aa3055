"""Score seed and data seed as separate sources of randomness: what each changes, batching,
the command line, sweeps, and runs searched before the two existed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import landscape as ls
from landscape.cli import main
from landscape.config import load_config
from landscape.config.seeds import BOTH, DATA, SCORES, mask_seeds, varies
from landscape.data import load_dataset
from landscape.errors import ConfigError
from landscape.search.runner import run_search
from landscape.search.sweep import sweep_from_dict
from landscape.search.trainer import Trainer
from landscape.store import RunStore
from landscape.store.packing import pack_layers
from tests.conftest import TINY

CONFIG = "configs/digits_mlp_edge_popup.yaml"
SMALL = ["model.hidden=[24, 16]", "train.epochs=2", "train.batch_size=128"]


def masks_of(overrides, seeds) -> np.ndarray:
    """Packed masks of one batched search of ``seeds`` (rows in seed order)."""
    cfg = load_config(CONFIG, [*SMALL, *overrides])
    trainer = Trainer(cfg, load_dataset(cfg.data), 0, list(seeds), progress=False)
    return pack_layers(trainer.run().masks, trainer.model.layout())


@pytest.fixture(scope="module")
def designs():
    """Search seeds 0-2 with both sources free, with the data seed held at 0, the score seed at 0."""
    return {
        BOTH: masks_of([], [0, 1, 2]),
        SCORES: masks_of(["train.data_seed=0"], [0, 1, 2]),
        DATA: masks_of(["method.score_seed=0"], [0, 1, 2]),
    }


def test_defaults_follow_the_search_seed():
    cfg = load_config(CONFIG)
    assert mask_seeds(cfg, [3, 5]) == ([3, 5], [3, 5])
    assert varies(cfg) == BOTH
    assert mask_seeds(cfg.replace(**{"train.data_seed": 0}), [3, 5]) == ([3, 5], [0, 0])
    assert mask_seeds(cfg.replace(**{"method.score_seed": 7}), [3, 5]) == ([7, 7], [3, 5])


def test_same_score_and_data_seeds_give_identical_masks(designs):
    # (score 0, data 0) is search seed 0 of every design
    assert np.array_equal(designs[BOTH][0], designs[SCORES][0])
    assert np.array_equal(designs[BOTH][0], designs[DATA][0])


def test_changing_only_one_seed_changes_the_mask(designs):
    # search seed 2: (2, 2) freely; (2, 0) with the data held; (0, 2) with the scores held
    assert not np.array_equal(designs[BOTH][2], designs[SCORES][2])  # data seed differs
    assert not np.array_equal(designs[BOTH][2], designs[DATA][2])  # score seed differs
    assert not np.array_equal(designs[SCORES][1], designs[SCORES][2])
    assert not np.array_equal(designs[DATA][1], designs[DATA][2])


def test_holding_the_data_seed_equals_searching_with_that_data_order():
    # the data-held mask (score 2, data 0) is a free mask with scores of seed 2 and data of 0:
    # compare its scores and first data order with the free searches of seeds 2 and 0
    cfg = load_config(CONFIG, [*SMALL, "train.data_seed=0"])
    free = load_config(CONFIG, SMALL)
    data = load_dataset(cfg.data)
    held, two, zero = (Trainer(c, data, 0, [s], progress=False) for c, s in ((cfg, 2), (free, 2), (free, 0)))
    for (_, a), (_, b) in zip(held.model.masked_layers(), two.model.masked_layers()):
        assert np.array_equal(a.scores.detach().numpy(), b.scores.detach().numpy())
    assert np.array_equal(held._epoch_order(1).numpy(), zero._epoch_order(1).numpy())


@pytest.mark.parametrize("design, held", [(SCORES, "train.data_seed=0"), (DATA, "method.score_seed=0")])
def test_batched_equals_one_at_a_time_with_separate_seeds(designs, design, held):
    alone = np.concatenate([masks_of([held], [s]) for s in (0, 1, 2)])
    assert np.array_equal(designs[design], alone)


def test_holding_both_seeds_is_refused():
    with pytest.raises(ConfigError, match="hold at most one"):
        load_config(CONFIG, ["train.data_seed=0", "method.score_seed=0"])
    with pytest.raises(ConfigError, match="train.data_seed"):
        load_config(CONFIG, ["train.data_seed=-1"])


def test_held_seeds_enter_the_run_id_and_the_defaults_do_not():
    plain = load_config(CONFIG)
    assert load_config(CONFIG, ["train.data_seed=null", "method.score_seed=null"]).run_id == plain.run_id
    assert load_config(CONFIG, ["train.data_seed=0"]).run_id != plain.run_id
    assert load_config(CONFIG, ["method.score_seed=0"]).run_id != plain.run_id


def test_cli_varies_scores_with_the_data_seed_held(tmp_path, capsys):
    args = ["search", CONFIG, "--runs", str(tmp_path), "--quiet", *(f"--set={o}" for o in TINY)]
    assert main([*args, "--score-seeds", "0-1", "--data-seed", "5"]) == 0
    ms = ls.read_runs(tmp_path)
    assert ms.obs["train.data_seed"].tolist() == [5, 5]
    assert ms.obs["score_seed"].tolist() == [0, 1] and ms.obs["data_seed"].tolist() == [5, 5]
    assert set(ms.obs["varies"]) == {SCORES}
    assert main([*args, "--score-seeds", "0-1", "--data-seeds", "0-1"]) == 2
    assert "hold one of them" in capsys.readouterr().err
    assert main([*args, "--score-seeds", "0-1"]) == 2
    assert "--data-seed" in capsys.readouterr().err
    assert main([*args, "--search-seeds", "0", "--score-seed", "0", "--data-seeds", "0-1"]) == 2
    assert main([*args, "--score-seed", "0", "--data-seeds", "0-1", "--set", "method.score_seed=1"]) == 2


def test_sweeps_hold_one_source():
    base = {"base": "../digits_mlp_edge_popup.yaml", "weight_seeds": 0}
    sweep = sweep_from_dict({**base, "score_seeds": "0-3", "data_seeds": 2}, base_dir="configs/sweeps")
    (task,) = sweep.expand()
    assert task.cfg.train.data_seed == 2 and task.search_seeds == (0, 1, 2, 3)
    sweep = sweep_from_dict({**base, "score_seeds": 1, "data_seeds": "0-3"}, base_dir="configs/sweeps")
    assert sweep.expand()[0].cfg.method.score_seed == 1
    with pytest.raises(ConfigError, match="not both"):
        sweep_from_dict(
            {**base, "score_seeds": 1, "data_seeds": 0, "search_seeds": 0}, base_dir="configs/sweeps"
        )
    with pytest.raises(ConfigError, match="held by"):
        sweep_from_dict({**base, "score_seeds": 1, "data_seeds": "0-1", "grid": {"method.score_seed": [0, 1]}},
                        base_dir="configs/sweeps")  # fmt: skip


def test_a_run_searched_before_the_seed_fields_reads_and_analyses_as_before(tmp_path):
    cfg = load_config(CONFIG, TINY)
    first = run_search(cfg, tmp_path, [0], [0, 1, 2], progress=False)
    fresh = ls.read_runs(tmp_path)
    ls.tl.distances(fresh, per_layer=True)
    expected = ls.tl.diversity(fresh)
    path = first.path / "config.json"
    stored = json.loads(path.read_text())
    # what such a run's config.json held: no score_seed, no data_seed
    del stored["method"]["score_seed"], stored["train"]["data_seed"]
    path.write_text(json.dumps(stored))
    store = RunStore.open(first.path)
    assert store.run_id == cfg.run_id
    ms = ls.read_runs(tmp_path)
    pd.testing.assert_frame_equal(ms.obs, fresh.obs)
    assert ms.obs["score_seed"].tolist() == ms.obs["search_seed"].tolist() == ms.obs["data_seed"].tolist()
    ls.tl.distances(ms, per_layer=True)
    pd.testing.assert_frame_equal(ls.tl.diversity(ms), expected)
    assert expected["n_pairs"].iloc[0] == 3
    again = run_search(cfg, tmp_path, [0], [0, 1, 2, 3], progress=False)  # joins it, adds one
    assert again.path == first.path and (again.skipped, again.done) == (3, 1)
    assert np.array_equal(ls.read_runs(tmp_path).rows()[:3], ms.rows())
