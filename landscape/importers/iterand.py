"""IteRand checkpoints of dchiji-ntt/iterand.

``commands/train.py`` saves ``{"epoch", "model_state_dict", "optim_state_dict",
"sched_state_dict", "best_val", "best_epoch", "total_iters", "total_seconds"}``
(``dump.<prefix>.<name>.pth`` every epoch, ``best.*`` at the best validation epoch). Every
``SparseConv2d`` / ``SparseLinear`` holds ``weight``, ``weight_score`` and a zero ``bias``;
the weights are the re-randomised ones, so they are imported with every mask.

The checkpoint does not carry the config. Give the re-draws with ``--set
method.rerand.every=`` (``rerand_freq``) and ``--set method.rerand.prob=`` (``rerand_lambda``),
with ``method.rerand.unit`` and ``mode`` where they are not the code's defaults (iteration,
bernoulli), or ``--set method.name=edge_popup`` for a run with ``rerand_mode: null``. Give the
density with ``--set method.density=``
(the fraction KEPT; the YAML's ``conv_sparsity`` is the fraction removed, so
``conv_sparsity: 0.5`` is ``method.density=0.5`` and ``0.6`` is ``0.4``). A config whose
``linear_sparsity`` differs from ``conv_sparsity`` cannot be expressed here. The mask is
``GetSubnet``'s on the raw (signed) scores: ``S >= kthvalue(S, 1 + round(0.01 * 100 s *
(N - 1)))`` with ``s = 1 - density`` (rounded to 12 decimals, the value the YAML held).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from landscape.errors import ConfigError
from landscape.importers import _rules
from landscape.importers._build import Context, Extracted, Format
from landscape.importers._files import find_state, load_torch, number
from landscape.importers._layers import parse_layers
from landscape.importers.hidden_networks import dense_flags, extracted_from

METHODS = ("iterand", "edge_popup")  # rerand_mode bernoulli or manual, and null
RULE = "IteRand GetSubnet: per layer, keep S >= kthvalue(S, 1 + round(0.01 * q * (N - 1))), q = 100 (1 - k)"


def _read(path: Path, ctx: Context) -> list[Extracted]:
    obj = load_torch(path)
    expected = "a dict with 'model_state_dict', as IteRand's train command saves"
    state = find_state(obj, path, ("model_state_dict",), bare=False, expected=expected)
    layers = parse_layers(state, path, "weight_score", "IteRand")
    ex = extracted_from(path, layers, RULE)
    _method(path, ctx, ex)
    keep = float(ctx.need("method.density", path, "IteRand checkpoints do not save their sparsity"))
    sparsity = round(1 - keep, 12)
    dense_flags(ctx, ex, layers, "layers without weight_score in the checkpoint")
    ex.masks = {
        layer.name: (
            np.ones(layer.shape, bool)
            if layer.scores is None
            else _rules.iterand_percentile(layer.scores, sparsity)
        )
        for layer in layers.layers
    }
    epoch = number(obj.get("epoch"))
    if epoch is not None:
        ex.record["epochs"] = int(epoch) + 1  # the training loop's epoch index is 0-based
    return [ex]


def _method(path: Path, ctx: Context, ex: Extracted) -> None:
    """IteRand with the re-draws the user states, or the code's Edge-Popup baseline
    (``rerand_mode: null``). The checkpoint saves no config, and schema defaults standing in
    for ``rerand_freq`` and ``rerand_lambda`` would merge runs of different re-draws into one."""
    name = ctx.user.get("method.name") or "iterand"
    if name not in METHODS:
        raise ConfigError(
            f"--set method.name={name}: IteRand's code searches iterand, or edge_popup with "
            "rerand_mode null; choose one of them"
        )
    ctx.fixed(ex.facts, ex.facts_from, "method.name", name, "format iterand")
    if name == "iterand":
        for dotted, arg in (("method.rerand.every", "rerand_freq"), ("method.rerand.prob", "rerand_lambda")):
            ctx.need(dotted, path, f"IteRand checkpoints do not save their config ({arg} in the YAML)")


FORMAT = Format(
    name="iterand",
    summary="IteRand checkpoints of dchiji-ntt/iterand (dump.*.pth, re-randomised weights included)",
    patterns=("**/dump.*.pth",),
    read=_read,
    changes_weights=lambda cfg: cfg.method.name == "iterand" and cfg.method.rerand.prob > 0,
)
