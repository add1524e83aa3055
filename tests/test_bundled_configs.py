"""Every bundled config, sweep and documented example loads, and the density sweep's Biprop is
really Biprop (not Edge-Popup on signed-constant weights)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from landscape.config import load_config
from landscape.search.sweep import load_sweep, sweep_from_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
SWEEPS = sorted((ROOT / "configs" / "sweeps").glob("*.*"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_loads(path):
    cfg = load_config(path)
    if cfg.method.name == "biprop":
        assert cfg.model.weight_init not in ("signed_constant", "unsigned_constant")


def test_iterand_configs_at_its_reference_lr_use_its_reference_score_init():
    # the straight-through gradient ignores the scores' scale, so lr 0.3 from the default
    # U(±1/sqrt(fan_in)) gives the masks of lr 0.3·sqrt(6) from IteRand's U(±sqrt(6/fan_in))
    iterand = [load_config(p) for p in CONFIGS if load_config(p).method.name == "iterand"]
    assert iterand
    for cfg in iterand:
        if cfg.train.lr == 0.3:
            assert cfg.method.score_init == "kaiming_uniform_relu", cfg.run_id


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_every_sweep_expands(path):
    tasks = load_sweep(path).expand()
    assert tasks
    for task in tasks:
        if task.cfg.method.name == "biprop":
            assert task.cfg.model.weight_init == "kaiming_normal"


def test_the_methods_sweeps_iterand_rows_redraw_many_times_per_run(monkeypatch):
    # IteRand's own schedule over the run's steps (batches per epoch as the trainer counts them);
    # with every 300 steps the 340-step run re-drew once and its rows were Edge-Popup in effect
    import math

    from landscape.search.methods.iterand import IteRand
    from landscape.search.runner import load_dataset

    events: list[int] = []
    monkeypatch.setattr(IteRand, "rerandomize", lambda self, step: events.append(step))
    tasks = load_sweep(ROOT / "configs" / "sweeps" / "digits_methods.toml").expand()
    rows = {t.cfg.run_id: t.cfg for t in tasks if t.cfg.method.name == "iterand"}
    assert len(rows) == 2
    for cfg in rows.values():
        per_epoch = math.ceil(len(load_dataset(cfg.data).train[1]) / cfg.train.batch_size)
        method = IteRand(cfg)
        method.set_steps_per_epoch(per_epoch)
        events.clear()
        for step in range(cfg.train.epochs * per_epoch):
            method.before_step(None, step)
        assert len(events) >= 10, (cfg.method.rerand.every, len(events))


def test_the_readmes_sweep_example_expands():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Sweeps on a cluster") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    data = yaml.safe_load(block)
    sweep = sweep_from_dict(data, source="README", base_dir=ROOT / "configs" / "sweeps")
    methods = {(t.cfg.method.name, t.cfg.model.weight_init) for t in sweep.expand()}
    assert methods == {("edge_popup", "signed_constant"), ("biprop", "kaiming_normal")}


def test_the_study_and_demo_plans_load():
    from landscape.demo import demo_plan

    for item in demo_plan():
        load_config(item.config, list(item.overrides))
    sys.path.insert(0, str(ROOT / "studies"))
    try:
        import dynamics
        import fidelity_plan
    finally:
        sys.path.remove(str(ROOT / "studies"))
    for entry in fidelity_plan.plan():
        load_config(ROOT / fidelity_plan.CONFIG, entry.overrides)
    for data in dynamics.DATASETS.values():  # the dynamics study: both methods, three designs
        cfgs = [cfg for density in data.densities for cfg in dynamics.configs(data, density, [])]
        assert {(c.method.name, c.method.density) for c in cfgs} == {
            (m, d) for m in dynamics.METHODS for d in data.densities
        }


def test_the_density_sweep_gives_biprop_masks_that_differ_from_edge_popups(tmp_path, one_thread_workers):
    from landscape.cli import main
    from landscape.store.run_store import RunStore

    data = yaml.safe_load((ROOT / "configs" / "sweeps" / "digits_density.yaml").read_text())
    data["base"] = str(ROOT / "configs" / "digits_mlp_edge_popup.yaml")
    data["set"] = {**data["set"], "train.epochs": 1, "model.hidden": [32, 32]}  # a reduced copy
    data["weight_seeds"], data["search_seeds"] = 0, "0-1"
    path = tmp_path / "digits_density_small.yaml"
    path.write_text(yaml.safe_dump(data))
    runs = tmp_path / "runs"
    assert main(["sweep", str(path), "--runs", str(runs), "--quiet"]) == 0
    stores = [
        RunStore.open(p) for p in sorted(runs.iterdir()) if p.is_dir() and not p.name.startswith(("_", "."))
    ]
    by_key = {(s.config.method.name, s.config.method.density): s for s in stores}
    assert len(by_key) == 6
    for density in (0.1, 0.3, 0.5):
        ep, bp = by_key[("edge_popup", density)], by_key[("biprop", density)]
        assert bp.config.model.weight_init == "kaiming_normal" and bp.config.model.scale_fan
        rows_ep, rows_bp = (by_seed(s) for s in (ep, bp))
        assert rows_ep.keys() == rows_bp.keys() == {(0, 0), (0, 1)}
        for seeds, row in rows_ep.items():
            differing = np.unpackbits(np.bitwise_xor(row, rows_bp[seeds])).sum()
            assert differing > 0.1 * 8 * row.size  # far from a copy (bit-identical before the fix)


def by_seed(store) -> dict[tuple[int, int], np.ndarray]:
    records = store.records()
    rows = store.read_rows()
    return {
        (int(w), int(s)): rows[i] for i, (w, s) in enumerate(zip(records.weight_seed, records.search_seed))
    }
