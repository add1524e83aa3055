"""Strong lottery tickets in Erdős–Rényi sources (RelationalML/sparse_to_sparse, ``ER_SLT``).

``cifar_main.py`` saves ``model.state_dict()``: the final ticket as
``<save_file>/ticket_<seed>_<sparsity>_<initBias>_<scaling>.pt`` and, during training, the best
checkpoint of every level of its schedule as ``ticket_<seed>_<level>.pt`` in the working
folder. A level checkpoint is an earlier mask of the same search, at that level's density
when the schedule anneals (``--anneal`` is ``type=bool``, so ``--anneal False`` anneals too);
a folder therefore yields only the final tickets, and the density is read from their name.
Every
``SupermaskConv`` / ``SupermaskLinear`` holds ``weight``, ``bias`` (random, frozen),
``scoresWeights`` and ``scoresBias``. The ER source mask is a plain attribute of those layers,
not a buffer, so the state dict lacks it: give it as ``--pattern FILE`` (``.npz`` or torch,
one 0/1 array per layer named like the layer, weight-shaped; optionally ``<layer>.bias``) or
import from a copy of the code that registers it as the buffer ``er_mask``.

Rule (``GetSubnetER`` as documented, not as published: its forward indexes the weight-shaped
``er_mask`` by output channel, so the network it ran scaled most weights by their raw
``|score|`` and used no binary mask; every import says so): over the layer's weights and biases together, the
``int(k * N)`` largest ``|score|`` among the positions inside the source are kept; biases
without a source entry count as inside. Only the weights' part of the mask is stored (this
toolkit's networks have no biases, so these runs hold masks without a network to rebuild).
``method.density`` is ``--sparsity`` there (the final fraction KEPT): a final ticket's name
states it, and a ``--set method.density=`` that differs is refused; any other file name (a
level checkpoint given by path, a renamed ticket) needs it, and ``--set origin.variant=`` for
the ``--initBias`` and ``--scaling`` the name would state. Give ``--set
method.source.density=`` (``--er-init-density``); the source mask must agree with it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from landscape.config.validate import UNKNOWN_INIT
from landscape.importers import _rules
from landscape.importers._build import Context, Extracted, Format
from landscape.importers._files import (
    bad,
    check_binary,
    find_state,
    is_array,
    load_torch,
    strip_wrappers,
    to_numpy,
)
from landscape.importers._layers import Layer, parse_layers
from landscape.importers.hidden_networks import extracted_from

RULE = (
    "ER_SLT GetSubnetER as documented: keep the int(k * N) largest |score| among weights and biases inside "
    "the source (N counts both); the weights' part is stored"
)
# what every import says: the published forward computes no binary mask
PUBLISHED_FORWARD = (
    "ER_SLT: these masks follow GetSubnetER's documented rule, not its published forward, which "
    "indexes the weight-shaped er_mask with torch.where(er_mask == 1)[0] (output channels), sets only "
    "the first entries of the scores to 0/1 and multiplies every other weight by its raw |score|: the "
    "checkpoint's network used no binary mask"
)

# cifar_main.py's names: str(args.sparsity) and an --initBias choice (letters and hyphens)
FINAL_NAME = re.compile(r"ticket_(-?\d+)_([0-9.eE+-]+)_([A-Za-z-]+)_(True|False)\.pt")
LEVEL_NAME = re.compile(r"ticket_(-?\d+)_(\d+)\.pt")
LEVEL_NOTE = (
    "ER_SLT: ticket_<seed>_<level>.pt is the best checkpoint of one level of the schedule, an earlier "
    "mask of the search whose final ticket is ticket_<seed>_<sparsity>_...pt, at that level's density "
    "when the schedule anneals; it was imported at method.density as given"
)


def _read(path: Path, ctx: Context) -> list[Extracted]:
    obj = load_torch(path)
    expected = "a state dict of SupermaskConv / SupermaskLinear layers, as ER_SLT's cifar_main.py saves"
    state = find_state(obj, path, ("state_dict",), bare=True, expected=expected)
    layers = parse_layers(state, path, "scoresWeights", "ER_SLT", extras=("scoresBias", "er_mask"))
    ex = extracted_from(path, layers, RULE)
    keep = _density(path, ctx, ex)
    source_density = float(
        ctx.need(
            "method.source.density", path, "ER_SLT checkpoints do not save the density of their ER source"
        )
    )
    external = _external_pattern(ctx)
    ex.facts.update({"method.name": "edge_popup", "method.source.kind": "er"})
    # cifar_main.py steps a multistep schedule of its own over --levels rounds of --epochs
    ctx.fixed(ex.facts, ex.facts_from, "train.schedule", UNKNOWN_INIT, "cifar_main.py's multistep_lr")
    ex.notes.append(PUBLISHED_FORWARD)
    ex.pattern, kept_biases, n_biases = {}, 0, 0
    for layer in layers.layers:
        inside_w, inside_b = _source(path, layer, external, ctx.pattern, layers.prefix)
        ex.pattern[layer.name] = np.where(inside_w, 0, -1).astype(np.int8)
        if layer.scores is None:
            ex.masks[layer.name] = np.ones(layer.shape, bool)
            continue
        bias_scores = layer.extras.get("scoresBias", np.zeros(0, np.float32)).ravel()
        if inside_b is None:
            inside_b = np.ones(bias_scores.size, bool)
        flat = np.concatenate([np.abs(layer.scores).ravel(), np.abs(bias_scores)])
        inside = np.concatenate([inside_w.ravel(), inside_b.ravel()])
        mask = _rules.er_source_topk(flat, inside, keep)
        ex.masks[layer.name] = mask[: layer.weight.size].reshape(layer.shape)
        kept_biases += int(mask[layer.weight.size :].sum())
        n_biases += bias_scores.size
    _check_source_density(path, layers.layers, ex.pattern, source_density, ctx)
    if n_biases:
        ex.notes.append(f"ER_SLT: the masks also keep {kept_biases} of {n_biases} biases (not stored)")
    return [ex]


def _density(path: Path, ctx: Context, ex: Extracted) -> float:
    """The target density: from a final ticket's name, else from ``--set method.density``."""
    final = final_ticket(path.name)
    if final is not None:
        named, variant = final
        where = f"the file name {path.name}"
        ctx.fixed(ex.facts, ex.facts_from, "method.density", named, where)
        # the initialiser and the per-epoch scaling: no field here says them, and tickets of
        # two such options must not share a run
        ctx.fixed(ex.facts, ex.facts_from, "origin.variant", variant, where)
        return named
    keep = float(ctx.need("method.density", path, "ER_SLT checkpoints do not save their target density"))
    # without it, files of two initialisers would share a run (an empty one states nothing)
    ctx.need(
        "origin.variant",
        path,
        "only a final ticket's name states ER_SLT's --initBias and --scaling, which the checkpoint "
        "does not save (as a name states them: 'initBias=kn-zero-bias scaling=False')",
    )
    if LEVEL_NAME.fullmatch(path.name) and LEVEL_NOTE not in ex.notes:
        ex.notes.append(LEVEL_NOTE)
    return keep


def final_ticket(name: str) -> tuple[float, str] | None:
    """A final ticket's density and its ``origin.variant`` (initBias, scaling), from its name;
    None for any other name."""
    final = FINAL_NAME.fullmatch(name)
    if final is None:
        return None
    try:
        density = float(final.group(2))
    except ValueError:  # a name of that shape that cifar_main.py did not write
        return None
    return density, f"initBias={final.group(3)} scaling={final.group(4)}"


def _external_pattern(ctx: Context) -> dict[str, np.ndarray] | None:
    if ctx.pattern is None:
        return None
    path = Path(ctx.pattern)
    if not path.is_file():
        raise bad(path, None, "not found (--pattern: the ER source masks)")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise bad(path, None, f"not a readable .npz ({exc})") from None
    obj = load_torch(path)
    state = find_state(obj, path, ("state_dict",), bare=True, expected="a dict of 0/1 tensors keyed by layer")
    return {k: to_numpy(v, path, k) for k, v in strip_wrappers(state).items() if is_array(v)}


def _source(
    path: Path, layer: Layer, external: dict | None, pattern_path, prefix: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """The layer's source mask over its weights (and biases when given)."""
    if "er_mask" in layer.extras:
        values, where, key = layer.extras["er_mask"], path, f"{prefix}{layer.name}.er_mask"
    elif external is not None:
        key = next(
            (k for k in (layer.name, f"{layer.name}.weight", f"{layer.name}.er_mask") if k in external), None
        )
        if key is None:
            raise bad(pattern_path, layer.name, "missing: the pattern file has no source mask for this layer")
        values, where = external[key], pattern_path
    else:
        raise bad(
            path,
            f"{prefix}{layer.name}.er_mask",
            "missing: the ER source mask is not in this checkpoint (ER_SLT keeps it outside the state dict); "
            "give it with --pattern FILE",
        )
    inside = check_binary(np.asarray(values), where, key)
    if inside.shape != layer.shape:
        raise bad(where, key, f"shape {inside.shape} differs from the layer's {layer.shape}")
    bias = None
    if external is not None and f"{layer.name}.bias" in external:
        bias = check_binary(np.asarray(external[f"{layer.name}.bias"]), pattern_path, f"{layer.name}.bias")
    return inside, bias


def _check_source_density(path: Path, layers, pattern: dict, density: float, ctx: Context) -> None:
    n = sum(layer.weight.size for layer in layers)
    inside = sum(int(np.count_nonzero(pattern[layer.name] == 0)) for layer in layers)
    spread = 5 * math.sqrt(density * (1 - density) / n) + 1 / n
    if abs(inside / n - density) > spread:
        raise bad(
            ctx.pattern or path,
            None,
            f"the ER source keeps {inside:,} of {n:,} weights ({inside / n:.4f}), which "
            f"method.source.density {density:g} does not give (expected {density:.4f} ± {spread:.4f})",
        )


FORMAT = Format(
    name="er_slt",
    summary="SLTs in ER sources (RelationalML/sparse_to_sparse ER_SLT tickets, with their source masks)",
    patterns=("**/ticket_*_*_*_*.pt",),  # final tickets, not ticket_<seed>_<level>.pt
    read=_read,
)
