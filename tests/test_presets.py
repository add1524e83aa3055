"""Named presets: each resolves to its reference config's values, as docs/methods.md lists them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from landscape.config import PRESETS, SearchConfig, from_dict, load_config
from landscape.search.sweep import sweep_from_dict

ROOT = Path(__file__).resolve().parents[1]

# Transcribed from the reference configs (the file each preset names), not from the presets.
SGD = {"train.optimizer": "sgd", "train.momentum": 0.9, "train.nesterov": False, "train.schedule": "cosine",
       "train.warmup_epochs": 0, "train.label_smoothing": 0.0}  # fmt: skip
PLAIN = {"method.global_topk": False, "method.anneal_epochs": 0, "method.rescale": "none",
         "method.recycle.every": 0, "method.source.kind": "dense", "method.source.scope": "global",
         "method.source.sampling": "bernoulli", "method.source.er_distribution": "uniform",
         "model.first_layer_dense": False, "model.last_layer_dense": False}  # fmt: skip
REFERENCE = {
    # hidden-networks conv4_usc_unsigned.yml: lr 0.1, cosine_lr, 100 epochs, wd 1e-4, momentum 0.9,
    # batch 128, init signed_constant (scale_fan commented out); scores kaiming_uniform(a=sqrt 5)
    "edge-popup-ref": {**PLAIN, **SGD, "method.name": "edge_popup", "model.weight_init": "signed_constant",
                       "model.scale_fan": False, "method.score_init": "kaiming_uniform", "train.lr": 0.1,
                       "train.epochs": 100, "train.weight_decay": 1e-4, "train.batch_size": 128},
    # biprop conv4_kn_unsigned.yml: the same schedule, init kaiming_normal, scale_fan True
    "biprop-ref": {**PLAIN, **SGD, "method.name": "biprop", "model.weight_init": "kaiming_normal",
                   "model.scale_fan": True, "method.score_init": "kaiming_uniform", "train.lr": 0.1,
                   "train.epochs": 100, "train.weight_decay": 1e-4, "train.batch_size": 128},
    # IWR conv-sc-epu-recycle.yaml: 250 epochs, rerand_epoch_freq 3, rerand_rate 0.1, recycle
    "iwr-ref": {**PLAIN, **SGD, "method.name": "edge_popup", "model.weight_init": "signed_constant",
                "model.scale_fan": False, "method.score_init": "kaiming_uniform", "train.lr": 0.1,
                "train.epochs": 250, "train.weight_decay": 1e-4, "train.batch_size": 128,
                "method.recycle.every": 3, "method.recycle.rate": 0.1, "method.recycle.unit": "epoch",
                "method.recycle.mode": "recycle", "method.recycle.warmup": 0, "method.recycle.ablation": False},
    # IWR conv-kn-biprop-recycle.yaml: kaiming_normal (no scale_fan), every 10 epochs, rate 0.2
    "iwr-biprop-ref": {**PLAIN, **SGD, "method.name": "biprop", "model.weight_init": "kaiming_normal",
                       "model.scale_fan": False, "method.score_init": "kaiming_uniform", "train.lr": 0.1,
                       "train.epochs": 250, "train.weight_decay": 1e-4, "train.batch_size": 128,
                       "method.recycle.every": 10, "method.recycle.rate": 0.2, "method.recycle.unit": "epoch",
                       "method.recycle.mode": "recycle", "method.recycle.warmup": 0,
                       "method.recycle.ablation": False},
    # IteRand figure2_conv6_sc_iterand: signed_constant, scores kaiming_uniform (relu gain),
    # bernoulli every 300 iterations, lambda 0.1, rerand_rate 1.0, lr 0.3, wd 1e-4, 100 epochs
    "iterand-ref": {**PLAIN, **SGD, "method.name": "iterand", "model.weight_init": "signed_constant",
                    "model.scale_fan": False, "method.score_init": "kaiming_uniform_relu", "train.lr": 0.3,
                    "train.epochs": 100, "train.weight_decay": 1e-4, "train.batch_size": 128,
                    "method.rerand.every": 300, "method.rerand.unit": "step", "method.rerand.prob": 0.1,
                    "method.rerand.rate": 1.0, "method.rerand.mode": "bernoulli"},
    # frozen cifar10-resnet18-global_ep-0.9-erk-p_0.8-r_0.0.yaml: w kaiming_uniform, s kaiming_normal,
    # erk, sparsity_distribution, global_ep, lr 0.1, wd 1e-4, 100 epochs, batch 128
    "frozen-ref": {**PLAIN, **SGD, "method.name": "edge_popup", "model.weight_init": "kaiming_uniform",
                   "model.scale_fan": False, "method.score_init": "kaiming_normal", "train.lr": 0.1,
                   "train.epochs": 100, "train.weight_decay": 1e-4, "train.batch_size": 128,
                   "method.source.kind": "frozen", "method.source.distribution": "erk",
                   "method.source.locked_rule": "sparsity", "method.source.scope": "global"},
    # frozen imagenet-resnet50-global_ep-0.7-epl-p_0.5-r_0.0.yaml: signed_kaiming_constant, epl,
    # dynamic_scaled, 2 GPUs x 128
    "frozen-imagenet-ref": {**PLAIN, **SGD, "method.name": "edge_popup", "model.weight_init": "signed_constant",
                            "model.scale_fan": False, "method.score_init": "kaiming_normal", "train.lr": 0.1,
                            "train.epochs": 100, "train.weight_decay": 1e-4, "train.batch_size": 256,
                            "method.rescale": "dynamic", "method.source.kind": "frozen",
                            "method.source.distribution": "epl", "method.source.locked_rule": "sparsity",
                            "method.source.scope": "global"},
}  # fmt: skip


def field(cfg: SearchConfig, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def test_every_preset_has_a_reference():
    assert sorted(PRESETS) == sorted(REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_preset_resolves_to_the_reference_values(name):
    cfg = load_config(None, [f"method.preset={name}"])
    assert {k: field(cfg, k) for k in REFERENCE[name]} == REFERENCE[name]
    assert set(PRESETS[name].values) == set(REFERENCE[name])  # and sets nothing else
    assert cfg.method.preset == name


def _docs_table() -> dict[str, dict[str, object]]:
    """The preset table of docs/methods.md: ``{preset: {field: value}}``."""
    text = (ROOT / "docs" / "methods.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    header = next(r for r in rows if "`edge-popup-ref`" in r)
    names = re.findall(r"`([a-z-]+-ref)`", header)
    table: dict[str, dict[str, object]] = {n: {} for n in names}
    start = rows.index(header) + 2
    for row in rows[start:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if not cells[0].startswith("`") or len(cells) != len(names) + 1:
            break
        key = cells[0].strip("`")
        for n, cell in zip(names, cells[1:]):
            if cell != "·":
                table[n][key] = yaml.safe_load(cell)
    return table


def test_docs_list_every_preset_with_its_resolved_values():
    table = _docs_table()
    assert sorted(table) == sorted(REFERENCE)
    for name, values in table.items():
        assert values == pytest.approx(REFERENCE[name]), name


# precedence --------------------------------------------------------------------------------


def test_a_files_own_fields_win_over_its_preset(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method:\n  preset: iterand-ref\n  density: 0.4\ntrain:\n  lr: 0.1\n  epochs: 5\n")
    cfg = load_config(path)
    assert (cfg.method.name, cfg.train.lr, cfg.train.epochs, cfg.method.density) == ("iterand", 0.1, 5, 0.4)
    assert cfg.method.score_init == "kaiming_uniform_relu" and cfg.method.rerand.every == 300


def test_a_preset_given_later_replaces_the_base_files_values_but_not_its_neighbours():
    cfg = load_config("configs/digits_mlp_edge_popup.yaml", ["train.lr=0.05", "method.preset=biprop-ref"])
    assert cfg.method.name == "biprop" and cfg.model.weight_init == "kaiming_normal" and cfg.model.scale_fan
    assert cfg.train.lr == 0.05  # given beside the preset: wins
    assert cfg.train.batch_size == 128 and cfg.train.epochs == 100  # the file's 64 and 30 replaced
    assert cfg.model.hidden == (256, 256) and cfg.data.name == "digits"  # never set by a preset


def test_the_preset_name_is_not_part_of_the_run_id():
    by_preset = load_config(None, ["method.preset=iwr-ref"])
    written_out = load_config(None, [f"{k}={v}" for k, v in PRESETS["iwr-ref"].values.items()])
    assert by_preset.run_id == written_out.run_id
    assert by_preset.canonical() == written_out.canonical()
    assert from_dict(by_preset.to_dict()) == by_preset  # config.json reads back unchanged


def test_a_sweep_grid_over_presets_gives_one_run_each():
    sweep = sweep_from_dict(
        {
            "base": str(ROOT / "configs" / "digits_mlp_edge_popup.yaml"),
            "set": {"train.epochs": 2},
            "grid": {"method.preset": ["edge-popup-ref", "biprop-ref"], "train.epochs": [3]},
            "weight_seeds": 0,
            "search_seeds": "0-1",
        }
    )
    tasks = sweep.expand()
    assert [(t.cfg.method.name, t.cfg.model.weight_init, t.cfg.train.epochs) for t in tasks] == [
        ("edge_popup", "signed_constant", 3),
        ("biprop", "kaiming_normal", 3),
    ]
