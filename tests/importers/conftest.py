"""Checkpoints in the formats of the reference codes, written by the tests themselves.

Keys, nesting, shapes and dtypes follow what those codes save (read from their
``save_checkpoint`` and model definitions); the values are random.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

CONV_PLAN = {2: (64, 64), 4: (64, 64, 128, 128), 6: (64, 64, 128, 128, 256, 256)}
CONV_PLAN[8] = (*CONV_PLAN[6], 512, 512)
# positions of the conv layers inside Frankle's nn.Sequential (ReLU and MaxPool in between)
SEQ_INDEX = {2: (0, 2), 4: (0, 2, 5, 7), 6: (0, 2, 5, 7, 10, 12), 8: (0, 2, 5, 7, 10, 12, 15, 17)}
TINY_DATA = ["data.name=synthetic", "data.n_train=96", "data.n_test=64"]


def scaled(n: int, width: float) -> int:
    return max(1, int(n * width))


def frankle_state(
    depth: int = 6,
    width: float = 1 / 16,
    *,
    score_seed: int = 0,
    weight_seed: int = 0,
    score_key: str = "scores",
    fc_group: str = "linear",
    fc_as_conv: bool = True,
    bias: bool = False,
    n_classes: int = 10,
    side: int = 32,
) -> dict[str, torch.Tensor]:
    """Conv-2/4/6/8 as hidden-networks / IteRand (``convs.<i>``, ``linear.<i>`` 1x1 convs) or
    the partially frozen code (``linears.<i>`` as (out, in)) define it."""
    gw = torch.Generator().manual_seed(1000 + weight_seed)
    gs = torch.Generator().manual_seed(score_seed)
    state: dict[str, torch.Tensor] = {}
    c_in = 3
    for i, base in zip(SEQ_INDEX[depth], CONV_PLAN[depth]):
        c = scaled(base, width)
        _layer(state, f"convs.{i}", (c, c_in, 3, 3), c_in * 9, gw, gs, score_key, bias)
        c_in = c
    spatial = side // 2 ** (depth // 2)
    widths = [c_in * spatial * spatial, scaled(256, width), scaled(256, width), n_classes]
    for j, i in enumerate((0, 2, 4)):
        shape = (widths[j + 1], widths[j], 1, 1) if fc_as_conv else (widths[j + 1], widths[j])
        _layer(state, f"{fc_group}.{i}", shape, widths[j], gw, gs, score_key, bias)
    return state


def resnet18_state(width: float = 0.125, *, style: str = "hn", score_seed: int = 0, weight_seed: int = 0):
    """CIFAR ResNet-18 named as hidden-networks (``conv1``, ``layer1.0.bn1``, ``fc``) or
    IteRand (``convnb1.conv``, ``layer1.0.convnb1.norm``, ``linear``) name it; stem 64."""
    gw = torch.Generator().manual_seed(1000 + weight_seed)
    gs = torch.Generator().manual_seed(score_seed)
    state: dict[str, torch.Tensor] = {}
    key = "scores" if style == "hn" else "weight_score"

    def conv(name, shape):
        _layer(state, name, shape, math.prod(shape[1:]), gw, gs, key, False)

    def bn(name, c):
        state[f"{name}.running_mean"] = torch.randn(c, generator=gw) * 0.1
        state[f"{name}.running_var"] = torch.rand(c, generator=gw) + 0.5
        state[f"{name}.num_batches_tracked"] = torch.tensor(100)

    names = _resnet_names(style)
    conv(names["conv1"], (64, 3, 3, 3))
    bn(names["bn1"], 64)
    c_in = 64
    for s, base in enumerate((64, 128, 256, 512), start=1):
        c = scaled(base, width)
        for b in range(2):
            stride = 2 if (s > 1 and b == 0) else 1
            p = f"layer{s}.{b}"
            conv(names["c1"].format(p), (c, c_in, 3, 3))
            bn(names["b1"].format(p), c)
            conv(names["c2"].format(p), (c, c, 3, 3))
            bn(names["b2"].format(p), c)
            if stride != 1 or c_in != c:
                conv(names["sc"].format(p), (c, c_in, 1, 1))
                bn(names["sb"].format(p), c)
            c_in = c
    fc_shape = (10, c_in, 1, 1) if style == "hn" else (10, c_in)
    _layer(state, names["fc"], fc_shape, c_in, gw, gs, key, style != "hn")
    return state


def _resnet_names(style: str) -> dict[str, str]:
    if style == "hn":
        return {
            "conv1": "conv1", "bn1": "bn1", "c1": "{}.conv1", "b1": "{}.bn1", "c2": "{}.conv2",
            "b2": "{}.bn2", "sc": "{}.shortcut.0", "sb": "{}.shortcut.1", "fc": "fc",
        }  # fmt: skip
    return {
        "conv1": "convnb1.conv", "bn1": "convnb1.norm", "c1": "{}.convnb1.conv", "b1": "{}.convnb1.norm",
        "c2": "{}.convnb2.conv", "b2": "{}.convnb2.norm", "sc": "{}.shortcut.conv",
        "sb": "{}.shortcut.norm", "fc": "linear",
    }  # fmt: skip


def _layer(state, name, shape, fan_in, gw, gs, score_key, bias) -> None:
    state[f"{name}.weight"] = torch.randn(shape, generator=gw) * math.sqrt(2 / fan_in)
    state[f"{name}.{score_key}"] = torch.empty(shape).uniform_(-1, 1, generator=gs) / math.sqrt(fan_in)
    if bias:
        state[f"{name}.bias"] = torch.zeros(shape[0])


def save_checkpoint(path: Path, state: dict, *, prefix: str = "module.", **extra) -> Path:
    """A checkpoint as hidden-networks' ``save_checkpoint`` writes it (DataParallel prefix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    top = {
        "epoch": 100,
        "arch": "Conv6Wide",
        "state_dict": {prefix + k: v for k, v in state.items()},
        "best_acc1": 81.25,
        "best_acc5": 99.1,
        "best_train_acc1": 95.0,
        "best_train_acc5": 99.9,
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.0, "momentum": 0.9, "params": [0, 1]}]},
        "curr_acc1": 80.5,
        "curr_acc5": 99.0,
        **extra,
    }
    torch.save(top, path)
    return path


def save_settings(run_dir: Path, **args) -> Path:
    """``settings.txt`` as those codes write it: ``str(args)`` of an argparse Namespace."""
    import argparse

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "settings.txt").write_text(str(argparse.Namespace(**args)))
    return run_dir / "settings.txt"


def stored_masks(run_path: Path) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    """``{(weight_seed, search_seed): {layer: bool array}}`` of a stored run."""
    from landscape.store import RunStore
    from landscape.store.packing import unpack_layers

    store = RunStore.open(run_path)
    rows = store.read_rows()
    pairs = [(int(w), int(s)) for w, s in zip(store.records()["weight_seed"], store.records()["search_seed"])]
    layers = unpack_layers(rows, store.layout)
    return {p: {k: v[i] for k, v in layers.items()} for i, p in enumerate(pairs)}


@pytest.fixture(autouse=True)
def _quiet_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
