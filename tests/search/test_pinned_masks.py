"""Masks (and changed weights) of tiny searches, pinned by checksum.

Configs that use none of the newer options must keep producing exactly these masks: a change
here means every stored run of that configuration would be searched differently. The
checksums were recorded with torch 2.13 (CPU, one thread) on x86-64; searches are
bit-reproducible there (see the batched-equals-sequential tests).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from landscape.config import load_config
from landscape.data import load_dataset
from landscape.search.trainer import Trainer

BASE = ["model.hidden=[24, 16]", "train.epochs=2", "train.batch_size=128"]
KN = ["model.weight_init=kaiming_normal", "model.scale_fan=true"]

CASES = {
    "edge_popup": [],
    "edge_popup_global_annealed": ["method.global_topk=true", "method.anneal_epochs=1", "method.density=0.3"],
    "biprop": ["method.name=biprop", *KN],
    "iterand": ["method.name=iterand", "method.rerand.every=5"],
    "edge_popup_iwr": ["method.recycle.every=1", "train.epochs=3"],
    "er_source": ["method.source.kind=er", "method.source.density=0.6", "method.density=0.3"],
    "frozen_erk": [
        "method.source.kind=frozen",
        "method.source.pruned=0.3",
        "method.source.locked=0.2",
        "method.density=0.45",
    ],
    "frozen_equal": [
        "method.source.kind=frozen",
        "method.source.pruned=0.3",
        "method.source.locked=0.2",
        "method.density=0.45",
        "method.source.distribution=equal",
    ],
    "random": ["method.name=random"],
}

PINNED = {
    "edge_popup": "24d2c354803f51ec",
    "edge_popup_global_annealed": "129fb26d24f54aa1",
    "biprop": "f15ea56f7b1c7d2f",
    "iterand": "0bef933abaf71ce9",
    "edge_popup_iwr": "d632b2950a2b4c6a",
    "er_source": "4307c378b87b42fc",
    "frozen_erk": "5a2f9ccda7962cad",
    "frozen_equal": "1d60aceaf5bad87f",
    "random": "6539e9555541e782",
}


def search_checksum(overrides: list[str]) -> str:
    cfg = load_config("configs/digits_mlp_edge_popup.yaml", [*BASE, *overrides])
    trainer = Trainer(cfg, load_dataset(cfg.data), 0, [0, 1], progress=False)
    result = trainer.run()
    h = hashlib.sha256()
    for name in sorted(result.masks):
        h.update(name.encode())
        h.update(np.packbits(result.masks[name], bitorder="little").tobytes())
    for per_mask in result.weights or []:
        for name in sorted(per_mask):
            h.update(np.ascontiguousarray(per_mask[name], dtype="<f4").tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("case", list(CASES))
def test_masks_are_pinned(case):
    assert search_checksum(CASES[case]) == PINNED[case]
