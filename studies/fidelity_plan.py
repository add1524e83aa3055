"""The configurations of the fidelity study, per dataset.

Every entry is one configuration of an MLP (in-h-h-10, no bias, all layers masked) searched
with several search seeds on one weight seed. Entries share runs where their configurations
coincide (the run id is the identity), so Edge-Popup at density 0.5 and full width is
searched once and appears in several tables. A :class:`Plan` holds one dataset's base config,
its method settings and the row labels the verdicts look up.

Digits (base configs/digits_mlp_edge_popup.yaml: SGD lr 0.1, momentum 0.9, weight decay 1e-4
on the scores, cosine, batch 64):

- Edge-Popup, IteRand and the sources use signed-constant weights; Biprop uses Kaiming normal
  with ``scale_fan`` (its reference configs), and Biprop+IWR the same init so the pair is
  init-matched.
- IWR: every F = 3 epochs with r = 0.1 for Edge-Popup (its Conv-2/4/8 configs) and r = 0.2
  for Biprop (its configs; F scaled down from 10 epochs because the runs are 8x shorter).
- IteRand: its reference pair of score init (``method.score_init: kaiming_uniform_relu``)
  and lr 0.3, re-draw every 20 steps (about 1.2 epochs at 17 steps per epoch) with
  probability 0.1.
- Weight-training baselines (dense, K-starts, dissipating): Kaiming normal start, lr 0.05.
- Frozen-source and their dense-source comparators search with one global top-k (the
  frozen source always does; the comparators are matched to it).

MNIST-1D (base configs/mnist1d_mlp_edge_popup.yaml, the same optimisation; 50 steps per
epoch) uses the same choices except IteRand's re-draw rhythm: every 43 steps (0.85 epoch, the
reference rhythm of 300 of 352 steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DENSITIES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
WIDTHS = (0.125, 0.25, 0.5, 1.0)
IWR_EP = {"method.recycle.every": 3, "method.recycle.rate": 0.1}
IWR_BIPROP = {"method.recycle.every": 3, "method.recycle.rate": 0.2}
EP = {"model.weight_init": "signed_constant"}
BIPROP = {"method.name": "biprop", "model.weight_init": "kaiming_normal", "model.scale_fan": True}
WEIGHT_TRAINING = {"model.weight_init": "kaiming_normal", "train.lr": 0.05}
DENSE = {"method.name": "dense", "method.density": 1.0, **WEIGHT_TRAINING}
# IteRand's own score init, U(±sqrt(6 / fan_in)) (its reference code's kaiming_uniform for ReLU)
ITERAND_INIT = {"method.score_init": "kaiming_uniform_relu"}
METHOD_NAMES = ("Edge-Popup", "EP+IWR", "Biprop", "Biprop+IWR", "IteRand", "dense (trained)")


@dataclass(frozen=True)
class Entry:
    """One row of a study table: a label, its overrides and how many search seeds it needs."""

    study: str
    label: str
    overrides: dict = field(hash=False)
    n_seeds: int = 0  # 0: the study's default

    def key(self) -> tuple:
        return tuple(sorted(self.overrides.items()))


@dataclass(frozen=True)
class Plan:
    """One dataset's study: base config, method settings and the shape of its MLP.

    ``n_in`` / ``n_out`` are the MLP's input and output sizes, ``hidden`` its base width;
    the frozen-source comparators get the hidden widths whose weight count matches the
    frozen network's stored bits (:meth:`equal_bits_hidden`).
    """

    name: str
    title: str
    config: str
    n_in: int
    n_out: int = 10
    hidden: int = 256
    iterand: dict = field(default_factory=dict, hash=False)
    tie_rule: str = "sd"  # "sd": |diff| < larger sd is a tie; "welch": 95% Welch interval
    runs: str = "runs_fidelity"
    widths: tuple = WIDTHS
    densities: tuple = DENSITIES
    base: dict = field(default_factory=dict, hash=False)  # overrides of the base config
    equal_bits_widths: tuple = ()  # fixed comparator widths (digits), else computed
    seeds: int = 5
    diversity_seeds: int = 10
    epochs: int = 30

    def n_weights(self, h: int) -> int:
        return self.n_in * h + h * h + h * self.n_out

    def equal_bits_hidden(self, free_fraction: float) -> int:
        """The width h whose MLP has about ``free_fraction`` of the base MLP's weights."""
        bits = free_fraction * self.n_weights(self.hidden)
        b = self.n_in + self.n_out
        return round((-b + math.sqrt(b * b + 4 * bits)) / 2)

    def h(self, width_mult: float) -> int:
        return int(self.hidden * width_mult)

    @property
    def methods_b(self) -> dict[str, dict]:
        return {
            "Edge-Popup": EP,
            "EP+IWR": {**EP, **IWR_EP},
            "Biprop": BIPROP,
            "Biprop+IWR": {**BIPROP, **IWR_BIPROP},
            "IteRand": {**EP, **self.iterand},
            "dense (trained)": DENSE,
        }

    def comparator_widths(self) -> tuple[int, int]:
        """Dense-source widths with the stored bits of freezing 0.5 and 0.7 of the weights."""
        if self.equal_bits_widths:
            return tuple(self.equal_bits_widths)
        return self.equal_bits_hidden(0.5), self.equal_bits_hidden(0.3)

    def frozen_labels(self) -> dict[str, str]:
        """Labels of the frozen-vs-dense table, keyed by role."""
        h5, h7 = self.comparator_widths()
        return {
            "full": f"dense source h={self.hidden} d=0.3",
            "eq1": f"dense source h={h5} d=0.3",
            "pure": "frozen p=0.5 r=0 d=0.3",
            "lock": "frozen p=0.25 r=0.25 d=0.3",
            "eq2": f"dense source h={h7} d=0.5",
            "lock2": "frozen p=0.35 r=0.35 d=0.5",
        }


DIGITS = Plan(
    name="digits",
    title="digits",
    config="configs/digits_mlp_edge_popup.yaml",
    n_in=64,
    iterand={
        "method.name": "iterand",
        **ITERAND_INIT,
        "method.rerand.every": 20,
        "method.rerand.prob": 0.1,
        "train.lr": 0.3,
    },
    tie_rule="sd",
    runs="runs_fidelity",
    equal_bits_widths=(172, 128),
)
MNIST1D = Plan(
    name="mnist1d",
    title="MNIST-1D",
    config="configs/mnist1d_mlp_edge_popup.yaml",
    n_in=40,
    hidden=128,
    base={"model.hidden": [128, 128]},
    seeds=8,
    diversity_seeds=12,
    epochs=20,
    iterand={
        "method.name": "iterand",
        **ITERAND_INIT,
        "method.rerand.every": 43,
        "method.rerand.prob": 0.1,
        "train.lr": 0.3,
    },
    tie_rule="welch",
    runs="runs_fidelity_mnist1d",
)
PLANS = {p.name: p for p in (DIGITS, MNIST1D)}

# the digits plan's names, kept for callers of the first version of this module
CONFIG = DIGITS.config
METHODS_B = DIGITS.methods_b
ITERAND = DIGITS.iterand


def _density_sweep(plan: Plan) -> list[Entry]:
    out = []
    for d in plan.densities:
        out.append(Entry("a", f"Edge-Popup d={d:g}", {**EP, "method.density": d}))
        out.append(Entry("a", f"Biprop d={d:g}", {**BIPROP, "method.density": d}))
    return out


def _width_sweep(plan: Plan) -> list[Entry]:
    out = []
    for w in plan.widths:
        for name, over in plan.methods_b.items():
            density = {} if name.startswith("dense") else {"method.density": 0.5}
            out.append(Entry("b", f"{name} w={w:g}", {**over, **density, "model.width_mult": w}))
    return out


def _frozen_vs_dense(plan: Plan) -> list[Entry]:
    glob = {**EP, "method.global_topk": True}
    frozen = {**EP, "method.source.kind": "frozen"}
    lab = plan.frozen_labels()
    h5, h7 = plan.comparator_widths()
    return [
        Entry("c", lab["full"], {**glob, "method.density": 0.3}),
        Entry("c", lab["eq1"], {**glob, "method.density": 0.3, "model.hidden": [h5, h5]}),
        Entry("c", lab["pure"], {**frozen, "method.density": 0.3, "method.source.pruned": 0.5}),
        Entry(
            "c",
            lab["lock"],
            {**frozen, "method.density": 0.3, "method.source.pruned": 0.25, "method.source.locked": 0.25},
        ),
        Entry("c", lab["eq2"], {**glob, "method.density": 0.5, "model.hidden": [h7, h7]}),
        Entry(
            "c",
            lab["lock2"],
            {**frozen, "method.density": 0.5, "method.source.pruned": 0.35, "method.source.locked": 0.35},
        ),
    ]


def _others(plan: Plan, diversity_seeds: int) -> list[Entry]:
    iterand = {**EP, **plan.iterand}
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
        Entry("d_sparse", "IteRand", {**iterand, **sparse}),
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
    out += _controls(plan)
    out += [
        Entry("d_div", "Edge-Popup d=0.5", {**EP, "method.density": 0.5}, n_seeds=diversity_seeds),
        Entry("d_div", "Biprop d=0.5", {**BIPROP, "method.density": 0.5}, n_seeds=diversity_seeds),
        Entry("d_null", "random masks d=0.5 (untrained)", {"method.name": "random", "method.density": 0.5}),
    ]
    return out


def _controls(plan: Plan) -> list[Entry]:
    """Controls that separate causes: IteRand's ranking without re-draws, and the init scale."""
    iterand = {**EP, **plan.iterand}
    no_redraw = {**iterand, "method.rerand.prob": 0.0}
    scaled = {**EP, "model.scale_fan": True}
    small = plan.h(plan.widths[0])
    return [
        Entry(
            "d_ctrl",
            f"IteRand r=0 (raw scores, no re-draws) h={small} d=0.5",
            {**no_redraw, "method.density": 0.5, "model.width_mult": plan.widths[0]},
        ),
        Entry(
            "d_ctrl",
            f"IteRand r=0.1 h={small} d=0.5",
            {**iterand, "method.density": 0.5, "model.width_mult": plan.widths[0]},
        ),
        Entry(
            "d_ctrl",
            f"IteRand r=0 (raw scores, no re-draws) h={plan.hidden} d=0.5",
            {**no_redraw, "method.density": 0.5},
        ),
        Entry("d_ctrl", f"IteRand r=0.1 h={plan.hidden} d=0.5", {**iterand, "method.density": 0.5}),
        Entry(
            "d_ctrl",
            f"IteRand r=0 (raw scores, no re-draws) h={plan.hidden} d=0.1",
            {**no_redraw, "method.density": 0.1},
        ),
        Entry("d_ctrl", f"IteRand r=0.1 h={plan.hidden} d=0.1", {**iterand, "method.density": 0.1}),
        Entry("d_ctrl", "Edge-Popup SC d=0.05", {**EP, "method.density": 0.05}),
        Entry("d_ctrl", "Edge-Popup SC + scale_fan d=0.05", {**scaled, "method.density": 0.05}),
        Entry("d_ctrl", "Edge-Popup SC d=0.1", {**EP, "method.density": 0.1}),
        Entry("d_ctrl", "Edge-Popup SC + scale_fan d=0.1", {**scaled, "method.density": 0.1}),
        Entry("d_ctrl", "Biprop d=0.05", {**BIPROP, "method.density": 0.05}),
    ]


def plan(diversity_seeds: int = 10, study: Plan = DIGITS) -> list[Entry]:
    """Every entry of ``study``, in table order."""
    return [
        *_density_sweep(study),
        *_width_sweep(study),
        *_frozen_vs_dense(study),
        *_others(study, diversity_seeds),
    ]


QUICK = {
    "a": lambda e: "d=0.5" in e.label or "d=0.05" in e.label,
    "b": lambda e: "w=0.125" in e.label,
    "c": lambda e: "d=0.3" in e.label,
}


def quick_plan(study: Plan = DIGITS) -> list[Entry]:
    """A small subset that touches every method, source and table (the smoke version)."""
    keep = []
    for e in plan(diversity_seeds=3, study=study):
        rule = QUICK.get(e.study)
        if rule is None or rule(e):
            keep.append(e)
    return keep
