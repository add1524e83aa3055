"""Every search method runs end to end from the command line, on digits and on a CNN.

Each case is a real ``landscape search`` invocation (two masks, one to three epochs) whose
stored masks are then read back and checked against what the method promises: the kept
count of every layer, the source (ER / frozen) respected, and weights stored where the
method changes them. The CNN cases use synthetic CIFAR-shaped data on narrow Conv-4 and
ResNet-20 models, alternating between the two, so the file runs in well under two minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from landscape.cli import main
from landscape.config import load_config
from landscape.store import RunStore
from landscape.store.packing import unpack_layer

CONFIG = "configs/digits_mlp_edge_popup.yaml"
DIGITS = ["model.hidden=[64, 64]"]
SYNTHETIC = ["data.name=synthetic", "data.input_shape=[3, 32, 32]", "data.n_train=128", "data.n_test=64"]
CNN = {
    "conv4": ["model.name=conv4", "model.width_mult=0.125"],
    "resnet20": ["model.name=resnet20", "model.width_mult=0.25"],
}


@dataclass(frozen=True)
class Case:
    """One method: its overrides, epochs, and which count rule its masks obey."""

    overrides: tuple[str, ...]
    epochs: int = 1
    rule: str = "layer"  # "layer": N - floor((1-d)N) per layer; "global", "er", "frozen", "ones"
    changes_weights: bool = False
    cnn: str = "conv4"
    trains: bool = True


CASES = {
    "edge_popup": Case(()),
    "biprop": Case(
        ("method.name=biprop", "model.weight_init=kaiming_normal", "model.scale_fan=true"), cnn="resnet20"
    ),
    # recycling runs at the end of epoch 1 (never after the first or the last epoch)
    "edge_popup+iwr": Case(
        ("method.recycle.every=1", "method.recycle.rate=0.1"), epochs=3, changes_weights=True
    ),
    "biprop+iwr": Case(
        ("method.name=biprop", "model.weight_init=kaiming_normal", "method.recycle.every=1"),
        epochs=3,
        changes_weights=True,
        cnn="resnet20",
    ),
    "iterand": Case(
        ("method.name=iterand", "method.rerand.every=1", "method.rerand.prob=0.1"), changes_weights=True
    ),
    # global top-k annealed from density 0.5 in epoch 0 to the target in epoch 1
    "biprop_global_annealed": Case(
        (
            "method.name=biprop",
            "model.weight_init=kaiming_normal",
            "method.global_topk=true",
            "method.density=0.2",
            "method.anneal_epochs=1",
        ),
        epochs=2,
        rule="global",
    ),
    "er_source": Case(
        ("method.source.kind=er", "method.source.density=0.5", "method.density=0.2"),
        rule="er",
        cnn="resnet20",
    ),
    "frozen_source": Case(
        (
            "method.source.kind=frozen",
            "method.source.pruned=0.25",
            "method.source.locked=0.25",
            "method.density=0.4",
        ),
        rule="frozen",
    ),
    "dense": Case(
        ("method.name=dense", "method.density=1", "train.lr=0.05"),
        rule="ones",
        changes_weights=True,
        cnn="resnet20",
    ),
    "dense_random_mask": Case(
        ("method.name=dense", "method.density=0.2", "train.lr=0.05"), changes_weights=True
    ),
    "kstarts": Case(
        ("method.name=kstarts", "method.density=0.2", "train.lr=0.05"), changes_weights=True, cnn="resnet20"
    ),
    "dissipating": Case(
        ("method.name=dissipating", "method.density=0.2", "train.lr=0.05"), changes_weights=True
    ),
    # two epochs: the K-starts selection, then one epoch of dissipating inside the chosen mask
    "kstarts_dissipating": Case(
        ("method.name=kstarts_dissipating", "method.density=0.2", "train.lr=0.05"),
        epochs=2,
        changes_weights=True,
        cnn="resnet20",
    ),
    "random": Case(("method.name=random", "method.density=0.3"), trains=False),
}


def _overrides(case: Case, data: str) -> list[str]:
    base = DIGITS if data == "digits" else [*SYNTHETIC, *CNN[case.cnn]]
    return [*base, f"train.epochs={case.epochs}", *case.overrides]


def _cli(tmp_path, overrides: list[str], capsys) -> RunStore:
    argv = ["search", CONFIG, "--runs", str(tmp_path), "--search-seeds", "0-1", "--quiet"]
    for item in overrides:
        argv += ["--set", item]
    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return RunStore.open(run)


def _kept(n: int, density: float) -> int:
    # written out here rather than imported so the test states the rule independently
    return n - math.floor(round((1.0 - density) * n, 9))


def _patterns(store: RunStore):
    """The source pattern of every layer, regenerated from the weight seed (CPU)."""
    from landscape.search.methods.sources import er_patterns, frozen_counts, frozen_patterns

    meth = store.config.method
    shapes = [spec.shape for spec in store.layout]
    if meth.source.kind == "er":
        return er_patterns(shapes, meth.source.density, 0)
    counts = frozen_counts(shapes, meth.source.pruned, meth.source.locked, meth.source.distribution)
    return frozen_patterns(shapes, counts, 0)


def _check_density(store: RunStore, rule: str) -> None:
    rows = store.read_rows()
    density = store.config.method.density
    layers = {spec.name: unpack_layer(rows, store.layout, spec.name) for spec in store.layout}
    if rule in ("er", "frozen"):
        patterns = [p.reshape(-1).numpy() for p in _patterns(store)]
    if rule in ("frozen", "global"):
        total = sum(m.sum(axis=1) for m in layers.values())
        assert (total == _kept(store.layout.n_weights, density)).all()
    for k, (name, kept) in enumerate(layers.items()):
        n = store.layout[name].numel
        if rule == "ones":
            assert kept.all(), name
        elif rule == "layer":
            assert (kept.sum(axis=1) == _kept(n, density)).all(), name
        elif rule == "er":
            assert (kept.sum(axis=1) == max(1, math.floor(round(density * n, 9)))).all(), name
            assert not kept[:, patterns[k] < 0].any(), f"{name}: kept weights outside the ER source"
        elif rule == "frozen":
            assert not kept[:, patterns[k] < 0].any(), f"{name}: frozen-pruned weights kept"
            assert kept[:, patterns[k] > 0].all(), f"{name}: locked weights dropped"


def _check_records(store: RunStore, case: Case) -> None:
    table = store.records()
    assert len(table) == 2
    assert sorted(table["search_seed"].astype(int)) == [0, 1]
    # the random null model is never trained, so it has no training loss
    for col in ("test_acc", "val_acc", *(("final_train_loss",) if case.trains else ())):
        assert np.isfinite(table[col].to_numpy(dtype=float)).all(), col
    assert ((table["test_acc"] >= 0) & (table["test_acc"] <= 1)).all()
    assert (table["epochs"].astype(int) == (case.epochs if case.trains else 0)).all()
    if case.rule == "frozen":
        n_free = sum(int((p == 0).sum()) for p in _patterns(store))
        assert (table["stored_bits"].astype(int) == n_free).all()


def _check_weights(store: RunStore, case: Case) -> None:
    """Methods that change the weights store them, and they differ from the random draw."""
    if not case.changes_weights:
        assert not store.has_weights(0, 0)
        return
    from landscape.search.runner import load_dataset
    from landscape.search.trainer import build_model

    cfg = store.config
    model = build_model(cfg, load_dataset(cfg.data), 1, "cpu")
    model.init_weights(0, cfg.model.weight_init, cfg.method.density, cfg.model.scale_fan)
    initial = {name: layer.weight.detach()[0].numpy() for name, layer in model.masked_layers()}
    for seed in (0, 1):
        stored = store.load_weights(0, seed)
        changed = [name for name in initial if not np.array_equal(stored[name], initial[name])]
        assert changed, f"search seed {seed}: stored weights equal the random draw"


@pytest.mark.parametrize("data", ["digits", "cnn"])
@pytest.mark.parametrize("name", list(CASES))
def test_method_runs_from_the_cli(name, data, tmp_path, capsys):
    case = CASES[name]
    store = _cli(tmp_path, _overrides(case, data), capsys)
    assert store.n_masks == 2
    assert store.config == load_config(CONFIG, _overrides(case, data))
    _check_density(store, case.rule)
    _check_records(store, case)
    _check_weights(store, case)


def test_rerunning_a_finished_search_adds_nothing(tmp_path, capsys):
    overrides = _overrides(CASES["edge_popup"], "digits")
    first = _cli(tmp_path, overrides, capsys).read_rows()
    again = _cli(tmp_path, overrides, capsys)
    assert again.n_masks == 2
    assert np.array_equal(again.read_rows(), first)
