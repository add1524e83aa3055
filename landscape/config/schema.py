"""The config dataclasses: what a search is (model, data, method, optimisation), and its run id.

Seeds are not part of a config: ``weight_seed`` and ``search_seed`` are axes inside a run, so
more seeds can be added to a run later. Engineering knobs (device, masks in flight, data root)
are not part of the identity either.

``run_id`` is a hash of the canonical JSON with default-valued fields dropped, so adding a
field with a neutral default keeps existing run ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from typing import Any

# Fields marked with this metadata do not enter the run id (where the data lives, say).
NOT_IDENTITY = {"identity": False}
# ... and these are not recorded in a run's config.json either: they say what a search keeps
# beside its masks (snapshots), which each mask's own files record
NOT_STORED = {"identity": False, "stored": False}


@dataclass(frozen=True)
class ModelConfig:
    """Network architecture and its frozen random weights.

    ``weight_init`` is one of signed_constant, kaiming_normal, kaiming_uniform,
    unsigned_constant; an imported run may also say ``unknown`` (its source does not name
    one this toolkit draws). ``scale_fan`` scales the weight std by ``1/sqrt(density)`` (the
    paper's intent; the reference code's formula is only right at density 0.5).
    ``batchnorm``: "auto" = non-affine BN in ResNets, none elsewhere. ``hidden`` (the MLP's
    widths) is refused on the toolkit's other models, whose widths only ``width_mult`` scales;
    switching an MLP config to one of them (``--set model.name=conv4``) leaves its widths behind.
    """

    name: str = "mlp"
    hidden: tuple[int, ...] = (256, 256)
    width_mult: float = 1.0
    weight_init: str = "signed_constant"
    scale_fan: bool = False
    batchnorm: str = "auto"
    first_layer_dense: bool = False
    last_layer_dense: bool = False

    @property
    def uses_batchnorm(self) -> bool:
        """Whether the network has BatchNorm layers (``auto``: those of :data:`BATCHNORM_BY_DEFAULT`)."""
        return self.batchnorm == "nonaffine" or (
            self.batchnorm == "auto" and self.name in BATCHNORM_BY_DEFAULT
        )


#: models whose ``batchnorm: auto`` means non-affine BatchNorm (the ResNets' own convention)
BATCHNORM_BY_DEFAULT = ("resnet18", "resnet20")


@dataclass(frozen=True)
class Mnist1dConfig:
    """Arguments of the MNIST-1D generator (``mnist1d.data.make_dataset``).

    The defaults are the package's ``get_dataset_args()``, which make the benchmark's standard
    4,000 / 1,000 train/test signals of length 40; only changed fields enter the run id.
    """

    num_samples: int = 5000
    train_split: float = 0.8
    template_len: int = 12
    padding: tuple[int, ...] = (36, 60)
    scale_coeff: float = 0.4
    max_translation: int = 48
    corr_noise_scale: float = 0.25
    iid_noise_scale: float = 0.02
    shear_scale: float = 0.75
    shuffle_seq: bool = False
    final_seq_length: int = 40
    seed: int = 42


@dataclass(frozen=True)
class DataConfig:
    """Dataset and split. ``root`` is where MNIST/CIFAR files live and where generated data is
    cached (not part of the run id); ``mnist1d`` holds the MNIST-1D generator's arguments."""

    name: str = "digits"
    root: str = field(default="", metadata=NOT_IDENTITY)
    split_seed: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    augment: bool = True
    input_shape: tuple[int, ...] = (3, 32, 32)
    n_classes: int = 10
    n_train: int = 2048
    n_test: int = 512
    mnist1d: Mnist1dConfig = Mnist1dConfig()


# The DataConfig fields each dataset reads, besides ``name``. A run's config.json records only
# these; a config that gives another identity field a non-default value is refused (it would
# change the run id, not the data). A dataset missing here is taken to use every field.
DATASET_FIELDS: dict[str, tuple[str, ...]] = {
    "digits": ("split_seed", "val_fraction", "test_fraction"),
    "mnist": ("root", "split_seed", "val_fraction"),
    "cifar10": ("root", "split_seed", "val_fraction", "augment"),
    "mnist1d": ("root", "split_seed", "val_fraction", "mnist1d"),
    "synthetic": ("split_seed", "val_fraction", "augment", "input_shape", "n_classes", "n_train", "n_test"),
    "external": (),  # imported masks whose data is not named: nothing is loaded
}


def data_fields_used(name: str) -> tuple[str, ...]:
    """The :class:`DataConfig` fields dataset ``name`` reads (``name`` included)."""
    if name not in DATASET_FIELDS:
        return tuple(f.name for f in dataclasses.fields(DataConfig))
    return ("name", *DATASET_FIELDS[name])


@dataclass(frozen=True)
class RecycleConfig:
    """Iterative Weight Recycling: overwrite the ``rate``·N lowest-|score| weights of each
    layer with the highest-|score| ones every ``every`` epochs (0 = off).

    ``unit`` "step" counts optimiser steps within an epoch instead (after step ``i`` of an
    epoch when ``i % every == 0``, from the second epoch on). ``mode`` "iterand_recycle" first
    re-draws each pruned weight with probability ``rate``/2, then recycles ``rate``/2·N.
    """

    every: int = 0
    rate: float = 0.2
    warmup: int = 0
    ablation: bool = False
    unit: str = "epoch"
    mode: str = "recycle"


@dataclass(frozen=True)
class RerandConfig:
    """IteRand: every ``every`` steps re-draw each pruned weight with probability ``prob``;
    ``rate`` < 1 restricts candidates to the lowest ``rate``·sparsity scores.

    ``unit`` "epoch" counts ``every`` in epochs (the event runs before the last step of the
    epoch). ``mode`` "manual" mixes every candidate deterministically,
    ``W <- mix_old·W + mix_new·W_new``, instead of the Bernoulli draw.
    """

    every: int = 300
    prob: float = 0.1
    rate: float = 1.0
    unit: str = "step"
    mode: str = "bernoulli"
    mix_old: float = 1.0
    mix_new: float = 0.0


@dataclass(frozen=True)
class SourceConfig:
    """What the search may select from.

    kind "dense": every weight.

    kind "er": a fixed Erdős–Rényi mask of density ``density``. ``sampling`` "bernoulli"
    draws every weight independently; "exact" draws, without replacement, exactly the count
    a search at ``method.density = density`` keeps (``floor(d_l N_l)`` per layer), so that
    density is always reachable.
    ``er_distribution`` spreads the source density over layers: "uniform" (every layer
    ``density``), "erk", "balanced" (equal count per layer, capped at dense) or "pyramidal"
    (density ``x^l`` with depth ``l``).

    kind "frozen": fractions ``pruned`` (never kept) and ``locked`` (always kept) of all
    weights, spread over layers by ``distribution`` ("erk", "equal" fraction, "epl" equal
    count, "igq"); ``locked_rule`` "sparsity" takes the locked count of a layer as the
    difference of the distribution at ``1 - pruned - locked`` and ``1 - pruned``, "density"
    as the distribution at density ``locked``. ``scope`` "global" searches one threshold over
    all free entries, "layer" keeps ``method.density`` of every layer.
    """

    kind: str = "dense"
    density: float = 1.0
    pruned: float = 0.0
    locked: float = 0.0
    distribution: str = "erk"
    locked_rule: str = "sparsity"
    scope: str = "global"
    sampling: str = "bernoulli"
    er_distribution: str = "uniform"


@dataclass(frozen=True)
class KStartsConfig:
    """K-starts: ``k`` random masks, the fittest after ``select_after`` epochs is kept."""

    k: int = 4
    select_after: int = 1
    fitness: str = "magnitude"


@dataclass(frozen=True)
class DissipateConfig:
    """Dissipating gradients: prune weights with |w(t) − w(0)| ≤ ``tau``·|w(0)|, checked every
    epoch, removing at most ``step`` of the weights per check until the target density."""

    tau: float = 0.1
    step: float = 0.2


@dataclass(frozen=True)
class MethodConfig:
    """Search method. ``density`` is the fraction of weights KEPT (never "prune rate").

    ``score_init``: "kaiming_uniform" = U(±1/sqrt(fan_in)) (hidden-networks),
    "kaiming_uniform_relu" = U(±sqrt(6/fan_in)) (IteRand's own), "kaiming_normal",
    "constant".
    """

    name: str = "edge_popup"
    density: float = 0.5
    global_topk: bool = False
    # global top-k only: anneal the density from 0.5 down to ``density`` over this many epochs
    # with the reference global variant's cubic schedule (0 = off; its code uses 10)
    anneal_epochs: int = 0
    score_init: str = "kaiming_uniform"
    # one score seed for every mask of the run (None: each mask's search seed); holding it
    # while the search seeds vary leaves the data order as the only randomness between masks
    score_seed: int | None = None
    # effective weight M ⊙ W times 1/sqrt(density) ("static") or 1/sqrt(the layer's kept
    # fraction) ("dynamic"), the partially frozen code's scale_method
    rescale: str = "none"
    # a named bundle of reference settings, expanded when the config is read (explicit fields
    # win); the resolved fields carry the identity, so the name itself does not
    preset: str = field(default="", metadata=NOT_IDENTITY)
    recycle: RecycleConfig = RecycleConfig()
    rerand: RerandConfig = RerandConfig()
    source: SourceConfig = SourceConfig()
    kstarts: KStartsConfig = KStartsConfig()
    dissipate: DissipateConfig = DissipateConfig()


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation of the scores (or of the weights, for weight-training baselines).

    Weight decay applies to the scores, as in the reference code. ``precision`` is the
    arithmetic of the training steps' matmuls and convolutions: ``fp32`` (IEEE float32,
    also on GPUs that would default to TF32), ``tf32`` (TF32 tensor cores on CUDA; plain
    float32 elsewhere) or ``bf16`` (bfloat16 autocast; scores, weights and the optimiser
    stay float32). Evaluation always runs in IEEE float32.

    ``data_seed``: one seed for every mask's data order and augmentation (None: each mask's
    search seed), so that only the score initialisation differs between the masks of a run.

    Snapshots (neither part of the run id nor of ``config.json``): with ``snapshot_every``
    ``k > 0`` or a non-empty ``snapshot_epochs``, each mask's state is kept after every
    ``k``-th epoch and after the listed epochs, always with epoch 0 (the top-k of the initial
    scores, before the first step) and the last epoch (the stored mask).
    """

    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    precision: str = "fp32"
    data_seed: int | None = None
    snapshot_every: int = field(default=0, metadata=NOT_STORED)
    snapshot_epochs: tuple[int, ...] = field(default=(), metadata=NOT_STORED)

    def snapshot_set(self) -> tuple[int, ...]:
        """The epochs whose masks a search keeps (empty: snapshots off), sorted."""
        if not self.snapshot_every and not self.snapshot_epochs:
            return ()
        every = range(0, self.epochs + 1, self.snapshot_every) if self.snapshot_every else ()
        return tuple(sorted({0, self.epochs, *every, *self.snapshot_epochs}))


@dataclass(frozen=True)
class OriginConfig:
    """Where the masks of a run come from.

    ``format`` is empty for masks searched by this toolkit, else the importer that brought
    them in (``hidden_networks``, ``biprop``, ``iwr``, ``iterand``, ``frozen``, ``er_slt``,
    ``arrays``) or ``maskset`` for a MaskSet written from Python. It is part of the identity,
    so imported masks never share a run with searched ones.

    ``variant`` is what an imported source states that no field here expresses, such as an
    initialiser this toolkit does not draw (``init=xavier_normal``, recorded as
    ``model.weight_init: unknown``) or the options of a ticket's name (``initBias=kn-zero-bias
    scaling=False``). It is part of the identity too, so masks of two such variants never share
    a run (and are never pooled as one configuration).
    """

    format: str = ""
    variant: str = ""


@dataclass(frozen=True)
class SearchConfig:
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    method: MethodConfig = MethodConfig()
    train: TrainConfig = TrainConfig()
    origin: OriginConfig = OriginConfig()

    # identity -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every field, as plain JSON-able values."""
        return _to_plain(self)

    def stored_dict(self) -> dict[str, Any]:
        """What a run's ``config.json`` records: :meth:`to_dict` without the data fields the
        dataset does not read (see ``DATASET_FIELDS``)."""
        out = self.to_dict()
        used = data_fields_used(self.data.name)
        out["data"] = {k: v for k, v in out["data"].items() if k in used}
        for dotted in NOT_STORED_FIELDS:
            section, name = dotted.split(".")
            out[section].pop(name, None)
        return out

    def canonical(self) -> dict[str, Any]:
        """Identity-relevant, non-default fields only (what the run id hashes)."""
        return _canonical(self)

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def replace(self, **dotted: Any) -> SearchConfig:
        """A copy with dotted fields changed: ``cfg.replace(**{"method.density": 0.3})``."""
        from landscape.config.parse import apply_overrides

        return apply_overrides(self, dotted)

    def describe(self) -> str:
        """Short human label, e.g. ``edge_popup mlp digits d=0.5``."""
        return f"{self.method.name} {self.model.name} {self.data.name} d={self.method.density:g}"


# --------------------------------------------------------------------------------------------
# dict <-> dataclass


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


def _canonical(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if not f.metadata.get("identity", True):
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            sub = _canonical(value)
            if sub:
                out[f.name] = sub
        elif value != _default_of(f):
            out[f.name] = _to_plain(value)
    return out


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


#: dotted names of the fields that do not change a run (see :data:`NOT_IDENTITY`)
NOT_IDENTITY_FIELDS = tuple(
    f"{section}.{f.name}"
    for section, cls in typing.get_type_hints(SearchConfig).items()
    for f in dataclasses.fields(cls)
    if not f.metadata.get("identity", True)
)

#: dotted names of the fields a run's ``config.json`` leaves out (see :data:`NOT_STORED`)
NOT_STORED_FIELDS = tuple(
    f"{section}.{f.name}"
    for section, cls in typing.get_type_hints(SearchConfig).items()
    for f in dataclasses.fields(cls)
    if not f.metadata.get("stored", True)
)
