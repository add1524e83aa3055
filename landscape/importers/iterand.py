"""IteRand checkpoints of dchiji-ntt/iterand.

``commands/train.py`` saves ``{"epoch", "model_state_dict", "optim_state_dict",
"sched_state_dict", "best_val", "best_epoch", "total_iters", "total_seconds"}``
(``dump.<prefix>.<name>.pth`` every epoch, ``best.*`` at the best validation epoch). Every
``SparseConv2d`` / ``SparseLinear`` holds ``weight``, ``weight_score`` and a zero ``bias``;
the weights are the re-randomised ones, so they are imported with every mask.

The checkpoint does not carry the config. Give the re-draws with ``--set
method.rerand.every=`` (``rerand_freq``) and ``--set method.rerand.prob=`` (``rerand_lambda``;
0 for ``rerand_mode: null``), or, with ``method.rerand.mode=manual``, ``method.rerand.mix_old``
and ``mix_new`` (``rerand_lambda``, ``rerand_mu``); ``method.rerand.unit`` where it is not the
code's default (iteration). Give the density with ``--set method.density=``
(the fraction KEPT; the YAML's ``conv_sparsity`` is the fraction removed, so
``conv_sparsity: 0.5`` is ``method.density=0.5`` and ``0.6`` is ``0.4``). A config whose
``linear_sparsity`` differs from ``conv_sparsity`` cannot be expressed here. The mask is
``GetSubnet``'s on the raw (signed) scores: ``S >= kthvalue(S, 1 + round(0.01 * 100 s *
(N - 1)))`` with ``s = 1 - density`` (rounded to 12 decimals, the value the YAML held).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from landscape.importers import _rules
from landscape.importers._args import as_float
from landscape.importers._build import Context, Extracted, Format
from landscape.importers._files import find_state, load_torch, number
from landscape.importers._layers import parse_layers
from landscape.importers.hidden_networks import dense_flags, extracted_from

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
    """IteRand with the re-draws the user states: the checkpoint saves no config, and schema
    defaults standing in for ``rerand_freq`` and ``rerand_lambda`` (or, in manual mode,
    ``rerand_lambda`` and ``rerand_mu``) would merge runs of different re-draws into one. A
    run without re-draws (``rerand_mode: null``) is ``method.rerand.prob=0``: still IteRand's
    mask rule on the signed scores, which is not this toolkit's Edge-Popup."""
    ctx.fixed(ex.facts, ex.facts_from, "method.name", "iterand", "format iterand")
    if ctx.user.get("method.rerand.mode") == "manual":
        needed = {"method.rerand.mix_old": "rerand_lambda", "method.rerand.mix_new": "rerand_mu",
                  "method.rerand.every": "rerand_freq"}  # fmt: skip
    elif as_float(ctx.user.get("method.rerand.prob")) == 0:
        needed = {}  # rerand_mode null: no re-draws, so no period either
    else:
        needed = {
            "method.rerand.prob": "rerand_lambda, or 0 for rerand_mode null",
            "method.rerand.every": "rerand_freq",
        }
    for dotted, arg in needed.items():
        ctx.need(dotted, path, f"IteRand checkpoints do not save their config (the YAML's {arg})")


def _changes_weights(cfg) -> bool:
    from landscape.search.methods.iterand import redraws_change_weights

    return redraws_change_weights(cfg.method.rerand)


FORMAT = Format(
    name="iterand",
    summary="IteRand checkpoints of dchiji-ntt/iterand (dump.*.pth, re-randomised weights included)",
    patterns=("**/dump.*.pth",),
    read=_read,
    changes_weights=_changes_weights,
)
