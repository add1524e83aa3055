"""The configurations of the digits fidelity study (ALGORITHMS.md §9b).

Every entry is one configuration of the digits MLP (64-h-h-10, no bias, all layers masked)
searched with several search seeds on one weight seed. Entries share runs where their
configurations coincide (the run id is the identity), so Edge-Popup at density 0.5 and full
width is searched once and appears in several tables.

Choices beyond the base config (configs/digits_mlp_edge_popup.yaml: SGD lr 0.1, momentum 0.9,
weight decay 1e-4 on the scores, cosine, batch 64):

- Edge-Popup, IteRand and the sources use signed-constant weights; Biprop uses Kaiming normal
  with ``scale_fan`` (its reference configs), and Biprop+IWR the same init so the pair is
  init-matched.
- IWR: every F = 3 epochs with r = 0.1 for Edge-Popup (its Conv-2/4/8 configs) and r = 0.2
  for Biprop (its configs; F scaled down from 10 epochs because the runs are 8x shorter).
- IteRand: re-draw every 20 steps (about 1.2 epochs at 17 steps per epoch) with
  probability 0.1, per §9b.
- Weight-training baselines (dense, K-starts, dissipating): Kaiming normal start, lr 0.05.
- Frozen-source and their dense-source comparators search with one global top-k (the
  frozen source always does; the comparators are matched to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONFIG = "configs/digits_mlp_edge_popup.yaml"
DENSITIES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
WIDTHS = (0.125, 0.25, 0.5, 1.0)
IWR_EP = {"method.recycle.every": 3, "method.recycle.rate": 0.1}
IWR_BIPROP = {"method.recycle.every": 3, "method.recycle.rate": 0.2}
ITERAND = {"method.name": "iterand", "method.rerand.every": 20, "method.rerand.prob": 0.1}
EP = {"model.weight_init": "signed_constant"}
BIPROP = {"method.name": "biprop", "model.weight_init": "kaiming_normal", "model.scale_fan": True}
WEIGHT_TRAINING = {"model.weight_init": "kaiming_normal", "train.lr": 0.05}
DENSE = {"method.name": "dense", "method.density": 1.0, **WEIGHT_TRAINING}

METHODS_B = {
    "Edge-Popup": EP,
    "EP+IWR": {**EP, **IWR_EP},
    "Biprop": BIPROP,
    "Biprop+IWR": {**BIPROP, **IWR_BIPROP},
    "IteRand": {**EP, **ITERAND},
    "dense (trained)": DENSE,
}


@dataclass(frozen=True)
class Entry:
    """One row of a study table: a label, its overrides and how many search seeds it needs."""

    study: str
    label: str
    overrides: dict = field(hash=False)
    n_seeds: int = 0  # 0: the study's default

    def key(self) -> tuple:
        return tuple(sorted(self.overrides.items()))


def _density_sweep() -> list[Entry]:
    out = []
    for d in DENSITIES:
        out.append(Entry("a", f"Edge-Popup d={d:g}", {**EP, "method.density": d}))
        out.append(Entry("a", f"Biprop d={d:g}", {**BIPROP, "method.density": d}))
    return out


def _width_sweep() -> list[Entry]:
    out = []
    for w in WIDTHS:
        for name, over in METHODS_B.items():
            density = {} if name.startswith("dense") else {"method.density": 0.5}
            out.append(Entry("b", f"{name} w={w:g}", {**over, **density, "model.width_mult": w}))
    return out


def _frozen_vs_dense() -> list[Entry]:
    glob = {**EP, "method.global_topk": True}
    frozen = {**EP, "method.source.kind": "frozen"}
    return [
        Entry("c", "dense source h=256 d=0.3", {**glob, "method.density": 0.3}),
        Entry("c", "dense source h=172 d=0.3", {**glob, "method.density": 0.3, "model.hidden": [172, 172]}),
        Entry("c", "frozen p=0.5 r=0 d=0.3", {**frozen, "method.density": 0.3, "method.source.pruned": 0.5}),
        Entry(
            "c",
            "frozen p=0.25 r=0.25 d=0.3",
            {**frozen, "method.density": 0.3, "method.source.pruned": 0.25, "method.source.locked": 0.25},
        ),
        Entry("c", "dense source h=128 d=0.5", {**glob, "method.density": 0.5, "model.hidden": [128, 128]}),
        Entry(
            "c",
            "frozen p=0.35 r=0.35 d=0.5",
            {**frozen, "method.density": 0.5, "method.source.pruned": 0.35, "method.source.locked": 0.35},
        ),
    ]


def _others(diversity_seeds: int) -> list[Entry]:
    out = [
        Entry("d_init", "signed constant", {**EP, "method.density": 0.5}),
        Entry("d_init", "Kaiming normal", {"model.weight_init": "kaiming_normal", "method.density": 0.5}),
        Entry("d_er", "dense source", {**EP, "method.density": 0.2}),
    ]
    for src in (0.7, 0.5, 0.3):
        over = {**EP, "method.density": 0.2, "method.source.kind": "er", "method.source.density": src}
        out.append(Entry("d_er", f"ER d_src={src:g}", over))
    sparse = {"method.density": 0.1}
    out += [
        Entry("d_sparse", "Edge-Popup", {**EP, **sparse}),
        Entry("d_sparse", "EP+IWR", {**EP, **IWR_EP, **sparse}),
        Entry("d_sparse", "IteRand", {**EP, **ITERAND, **sparse}),
        Entry("d_sparse", "Biprop", {**BIPROP, **sparse}),
        Entry("d_sparse", "Biprop+IWR", {**BIPROP, **IWR_BIPROP, **sparse}),
    ]
    wt = {**WEIGHT_TRAINING, "method.density": 0.2}
    out += [
        Entry("d_wt", "dense (d=1)", DENSE),
        Entry("d_wt", "random fixed mask", {**wt, "method.name": "dense"}),
        Entry("d_wt", "K-starts", {**wt, "method.name": "kstarts"}),
        Entry("d_wt", "dissipating", {**wt, "method.name": "dissipating"}),
        Entry("d_wt", "K-starts+dissipating", {**wt, "method.name": "kstarts_dissipating"}),
    ]
    out += _controls()
    out += [
        Entry("d_div", "Edge-Popup d=0.5", {**EP, "method.density": 0.5}, n_seeds=diversity_seeds),
        Entry("d_div", "Biprop d=0.5", {**BIPROP, "method.density": 0.5}, n_seeds=diversity_seeds),
        Entry("d_null", "random masks d=0.5 (untrained)", {"method.name": "random", "method.density": 0.5}),
    ]
    return out


def _controls() -> list[Entry]:
    """Controls that separate causes: IteRand's ranking without re-draws, and the init scale."""
    no_redraw = {**EP, **ITERAND, "method.rerand.prob": 0.0}
    scaled = {**EP, "model.scale_fan": True}
    return [
        Entry(
            "d_ctrl",
            "IteRand r=0 (raw scores, no re-draws) h=32 d=0.5",
            {**no_redraw, "method.density": 0.5, "model.width_mult": 0.125},
        ),
        Entry(
            "d_ctrl",
            "IteRand r=0.1 h=32 d=0.5",
            {**EP, **ITERAND, "method.density": 0.5, "model.width_mult": 0.125},
        ),
        Entry(
            "d_ctrl",
            "IteRand r=0 (raw scores, no re-draws) h=256 d=0.5",
            {**no_redraw, "method.density": 0.5},
        ),
        Entry("d_ctrl", "IteRand r=0.1 h=256 d=0.5", {**EP, **ITERAND, "method.density": 0.5}),
        Entry(
            "d_ctrl",
            "IteRand r=0 (raw scores, no re-draws) h=256 d=0.1",
            {**no_redraw, "method.density": 0.1},
        ),
        Entry("d_ctrl", "IteRand r=0.1 h=256 d=0.1", {**EP, **ITERAND, "method.density": 0.1}),
        Entry("d_ctrl", "Edge-Popup SC d=0.05", {**EP, "method.density": 0.05}),
        Entry("d_ctrl", "Edge-Popup SC + scale_fan d=0.05", {**scaled, "method.density": 0.05}),
        Entry("d_ctrl", "Edge-Popup SC d=0.1", {**EP, "method.density": 0.1}),
        Entry("d_ctrl", "Edge-Popup SC + scale_fan d=0.1", {**scaled, "method.density": 0.1}),
        Entry("d_ctrl", "Biprop d=0.05", {**BIPROP, "method.density": 0.05}),
    ]


def plan(diversity_seeds: int = 10) -> list[Entry]:
    """Every entry of the study, in table order."""
    return [*_density_sweep(), *_width_sweep(), *_frozen_vs_dense(), *_others(diversity_seeds)]


QUICK = {
    "a": lambda e: "d=0.5" in e.label or "d=0.05" in e.label,
    "b": lambda e: "w=0.125" in e.label,
    "c": lambda e: "d=0.3" in e.label,
}


def quick_plan() -> list[Entry]:
    """A small subset that touches every method, source and table (the smoke version)."""
    keep = []
    for e in plan(diversity_seeds=3):
        rule = QUICK.get(e.study)
        if rule is None or rule(e):
            keep.append(e)
    return keep
