"""Parameter names of the reference model definitions mapped to this toolkit's models.

Recognised (after a ``module.`` prefix is dropped):

- Frankle Conv-2/4/6/8 (hidden-networks, Biprop, IWR, IteRand: ``convs.<i>`` and
  ``linear.<i>``, fully connected layers stored as 1x1 convs; the partially frozen code:
  ``linears.<i>``) -> ``conv2``...``conv8`` with ``convs.<j>`` / ``fcs.<j>``; the width
  multiplier follows from the channel counts;
- the fully connected ``FC`` of hidden-networks (``linear.<i>`` only) -> ``mlp``;
- CIFAR ResNet-18 (``conv1``, ``layer<s>.<b>.conv1|conv2|shortcut.0``, ``fc`` or ``linear``;
  IteRand's ``convnb1.conv``, ``layer<s>.<b>.convnb<n>.conv|norm``, ``shortcut.conv|norm``)
  -> ``resnet18`` (stem of 64 channels at every width, as in IteRand and this toolkit).

A mapping counts only when the toolkit's own model, built at the inferred width, has
exactly these layers and shapes. Names and shapes cannot tell activations apart: a format
that knows its network is not a ReLU one (Biprop's ``*_BinAct``) passes that as an obstacle. Anything else imports as ``model.name: external``: the
layout keeps the source's names and shapes, and the masks can be compared but not evaluated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from landscape.errors import ConfigError
from landscape.store.layout import Layout

Shape = tuple[int, ...]


@dataclass
class Architecture:
    """How the layers of a source become the layers of a toolkit model (or of none).

    Attributes
    ----------
    model
        ModelConfig fields (``name``, ``width_mult``, ``batchnorm``, ...).
    names
        Source layer name -> layout layer name.
    bn_names
        Source BatchNorm module -> toolkit BatchNorm module.
    layout
        The layout the masks are stored in.
    data_info
        ``{"input_shape", "n_classes"}`` of the network (None when unknown).
    reason
        For ``external``: why no toolkit model fits (kept in the run's provenance).
    """

    model: dict
    names: dict[str, str]
    layout: Layout
    bn_names: dict[str, str] = field(default_factory=dict)
    data_info: dict | None = None
    reason: str | None = None

    @property
    def external(self) -> bool:
        return self.model["name"] == "external"


# ModelConfig fields an external architecture keeps: they say how its weights were drawn
_DRAWN = ("weight_init",)
_FRANKLE = re.compile(r"^(convs|linear|linears|fcs)\.(\d+)$")
_CONV_BASES = {2: (64, 64), 4: (64, 64, 128, 128), 6: (64, 64, 128, 128, 256, 256)}
_CONV_BASES[8] = (*_CONV_BASES[6], 512, 512)
_RESNET_RENAMES = (
    (re.compile(r"^convnb1\.conv$"), "conv1"),
    (re.compile(r"^convnb1\.norm$"), "bn1"),
    (re.compile(r"^(layer\d+\.\d+)\.convnb(\d)\.conv$"), r"\1.conv\2"),
    (re.compile(r"^(layer\d+\.\d+)\.convnb(\d)\.norm$"), r"\1.bn\2"),
    (re.compile(r"^(layer\d+\.\d+)\.shortcut\.conv$"), r"\1.shortcut.0"),
    (re.compile(r"^(layer\d+\.\d+)\.shortcut\.norm$"), r"\1.shortcut.1"),
    (re.compile(r"^linear$"), "fc"),
)


def resolve(
    layers: Sequence[tuple[str, Shape]],
    batchnorms: Sequence[str] = (),
    *,
    model: dict | None = None,
    obstacles: Sequence[str] = (),
    data_shape: Shape | None = None,
) -> Architecture:
    """The architecture of a source's maskable layers (in the source's order).

    Parameters
    ----------
    layers
        ``(name, shape)`` of every maskable layer, in order.
    batchnorms
        Names of the BatchNorm modules whose statistics the source holds.
    model
        ModelConfig fields the user or the source fixed (``name`` forces a model:
        ``external`` skips the mapping; a toolkit name must fit or the import fails).
    obstacles
        Reasons the network cannot be rebuilt whatever its names (non-zero biases, say):
        then the layout is taken from the shapes.
    data_shape
        The input shape when known (needed only where the shapes do not fix it).

    Raises
    ------
    ConfigError
        When ``model["name"]`` names a toolkit model the layers do not fit.
    """
    model = dict(model or {})
    forced = model.get("name")
    if forced == "external" or (obstacles and not forced):
        return _external(layers, "; ".join(obstacles) or "model.name external was given", model)
    if forced and obstacles:
        raise ConfigError(
            f"model.name {forced}: the source cannot be rebuilt as one ({'; '.join(obstacles)})"
        )
    attempts: list[str] = []
    for family in (_frankle, _mlp, _resnet18):
        try:
            arch = family(layers, batchnorms, model, data_shape)
        except _NoFit as exc:
            attempts.append(str(exc))
            continue
        if arch is not None:
            if forced and arch.model["name"] != forced:
                attempts.append(f"the layers are those of {arch.model['name']}, not {forced}")
                continue
            return arch
    if forced:
        detail = "; ".join(a for a in attempts if a) or "no known naming matches"
        raise ConfigError(f"model.name {forced}: the imported layers do not fit it ({detail})")
    reason = next((a for a in attempts if a), None)
    return _external(
        layers, reason or "its layer names and shapes match none of this toolkit's models", model
    )


class _NoFit(Exception):
    """A family recognised the names but the shapes do not fit the toolkit's model."""


def _external(layers: Sequence[tuple[str, Shape]], reason: str, model: dict) -> Architecture:
    layout = Layout((name, shape) for name, shape in layers)
    # no architecture to describe, but what drew the weights still tells networks apart
    fields = {"name": "external", **{k: model[k] for k in _DRAWN if k in model}}
    return Architecture(fields, {n: n for n, _ in layers}, layout, reason=reason)


def _frankle(layers, batchnorms, model, data_shape) -> Architecture | None:
    parsed = [(_FRANKLE.match(name), name, shape) for name, shape in layers]
    if not layers or any(m is None for m, _, _ in parsed) or batchnorms:
        return None
    # by position in the reference nn.Sequential (a folder of files may list convs.10 first)
    parsed.sort(key=lambda item: (item[0].group(1) != "convs", int(item[0].group(2))))
    convs = [(n, s) for m, n, s in parsed if m.group(1) == "convs"]
    fcs = [(n, s) for m, n, s in parsed if m.group(1) != "convs"]
    if not convs or len({m.group(1) for m, _, _ in parsed if m.group(1) != "convs"}) > 1:
        return None
    depth = len(convs)
    if depth not in _CONV_BASES or len(fcs) != 3:
        raise _NoFit(f"{depth} conv and {len(fcs)} fully connected layers; Conv-2/4/6/8 have 2-8 and 3")
    if any(len(s) != 4 or s[2:] != (3, 3) for _, s in convs):
        raise _NoFit("the conv layers are not all 3x3")
    fc_shapes = [_as_matrix(s) for _, s in fcs]
    if any(s is None for s in fc_shapes):
        raise _NoFit("a fully connected layer is neither (out, in) nor (out, in, 1, 1)")
    pairs = [(base, s[0]) for base, (_, s) in zip(_CONV_BASES[depth], convs)]
    pairs += [(256, fc_shapes[0][0]), (256, fc_shapes[1][0])]
    width = _infer_width(pairs, model.get("width_mult"))
    if width is None:
        raise _NoFit("the channel counts follow no single width multiplier")
    c_last, flat = convs[-1][1][0], fc_shapes[0][1]
    side = math.isqrt(flat // c_last) if flat % c_last == 0 else 0
    if side * side * c_last != flat:
        raise _NoFit(f"the first fully connected layer takes {flat} inputs, not {c_last} x side^2")
    size = side * 2 ** (depth // 2)
    input_shape = (convs[0][1][1], size, size)
    fields = {**_keep(model), "name": f"conv{depth}", "width_mult": width}
    names = {n: f"convs.{j}" for j, (n, _) in enumerate(convs)}
    names.update({n: f"fcs.{j}" for j, (n, _) in enumerate(fcs)})
    return _checked(fields, names, {}, layers, input_shape, fc_shapes[-1][0])


def _mlp(layers, batchnorms, model, data_shape) -> Architecture | None:
    parsed = [(_FRANKLE.match(name), name, shape) for name, shape in layers]
    if not layers or any(m is None or m.group(1) == "convs" for m, _, _ in parsed) or batchnorms:
        return None
    parsed.sort(key=lambda item: int(item[0].group(2)))
    shapes = [_as_matrix(s) for _, _, s in parsed]
    if any(s is None for s in shapes):
        raise _NoFit("a fully connected layer is neither (out, in) nor (out, in, 1, 1)")
    hidden = tuple(s[0] for s in shapes[:-1])
    fields = {**_keep(model), "name": "mlp", "hidden": hidden, "width_mult": 1.0}
    if "hidden" in model and tuple(model["hidden"]) != hidden:
        fields["hidden"], fields["width_mult"] = tuple(model["hidden"]), model.get("width_mult", 1.0)
    n_in = shapes[0][1]
    input_shape = tuple(data_shape) if data_shape and math.prod(data_shape) == n_in else (n_in,)
    names = {n: f"fcs.{j}" for j, (_, n, _) in enumerate(parsed)}
    return _checked(fields, names, {}, layers, input_shape, shapes[-1][0])


def _resnet18(layers, batchnorms, model, data_shape) -> Architecture | None:
    names = {n: _resnet_name(n) for n, _ in layers}
    if "conv1" not in names.values() or "fc" not in names.values():
        return None
    if not all(v == "conv1" or v == "fc" or v.startswith("layer") for v in names.values()):
        return None
    shapes = {names[n]: s for n, s in layers}
    if "layer1.0.conv1" not in shapes or "layer4.0.conv1" not in shapes:
        raise _NoFit("the layers look like a ResNet but not a four-stage one")
    if shapes["conv1"][0] != 64:
        raise _NoFit(
            f"its stem has {shapes['conv1'][0]} channels; the toolkit's ResNet-18 keeps 64 at every width"
        )
    pairs = [(b, shapes[f"layer{s}.0.conv1"][0]) for s, b in zip((1, 2, 3, 4), (64, 128, 256, 512))]
    width = _infer_width(pairs, model.get("width_mult"))
    if width is None:
        raise _NoFit("the stage widths follow no single width multiplier")
    bn_names = {b: _resnet_name(b) for b in batchnorms}
    fields = {**_keep(model), "name": "resnet18", "width_mult": width}
    fields["batchnorm"] = "auto" if bn_names else "none"
    fc = _as_matrix(shapes["fc"])
    if fc is None:
        raise _NoFit("its classifier is neither (out, in) nor (out, in, 1, 1)")
    side = data_shape[1:] if data_shape and len(data_shape) == 3 else (32, 32)
    input_shape = (shapes["conv1"][1], *side)
    return _checked(fields, names, bn_names, layers, input_shape, fc[0])


def _resnet_name(name: str) -> str:
    for pattern, repl in _RESNET_RENAMES:
        if pattern.match(name):
            return pattern.sub(repl, name)
    return name


def _as_matrix(shape: Shape) -> tuple[int, int] | None:
    if len(shape) == 2:
        return (shape[0], shape[1])
    if len(shape) == 4 and shape[2:] == (1, 1):
        return (shape[0], shape[1])
    return None


def _keep(model: dict) -> dict:
    """The ModelConfig fields the source or user fixed that a mapping does not infer."""
    return {k: v for k, v in model.items() if k not in ("name", "width_mult", "hidden")}


def _infer_width(pairs: Sequence[tuple[int, int]], hint: float | None) -> float | None:
    """A width ``w`` with ``max(1, int(base * w)) == n`` for every pair, preferring the given
    hint, then two-decimal values (0.1, 0.25, 2), then binary fractions (0.0625), then the
    shortest decimal that fits."""
    lo, hi = 0.0, math.inf
    for base, n in pairs:
        lo = max(lo, n / base if n > 1 else 0.0)
        hi = min(hi, (n + 1) / base)
    if lo >= hi:
        return None

    def fits(w: float) -> bool:
        return w > 0 and all(max(1, int(base * w)) == n for base, n in pairs)

    if hint is not None and fits(float(hint)):
        return float(hint)
    candidates = [math.ceil(lo * 100 - 1e-9) / 100, math.ceil(lo * 64 - 1e-9) / 64]
    candidates += [math.ceil(lo * 10**d - 1e-9) / 10**d for d in range(3, 9)]
    return next((c for c in candidates if c < hi and fits(c)), lo if fits(lo) else None)


def _squeezed(shape) -> tuple[int, ...]:
    return tuple(int(d) for d in shape if d != 1)


def _checked(fields, names, bn_names, layers, input_shape, n_classes) -> Architecture:
    """The mapping, if the toolkit's model built from ``fields`` has exactly these layers."""
    from landscape import registries
    from landscape.config import ModelConfig, from_dict

    try:
        cfg = from_dict(fields, ModelConfig, "model")
        net = registries.models.load(cfg.name)(cfg, tuple(input_shape), int(n_classes), 1)
    except ConfigError as exc:
        raise _NoFit(f"{fields['name']}: {exc}") from None
    layout = net.layout()
    # shapes without their unit axes (a linear layer stored as a 1x1 convolution), so that a
    # layer of the same size in another arrangement (transposed) is never read as this one
    mapped = [(names[n], _squeezed(s)) for n, s in layers]
    expected = [(spec.name, _squeezed(spec.shape)) for spec in layout]
    if sorted(mapped) != sorted(expected):
        missing = sorted({n for n, _ in expected} - {n for n, _ in mapped})
        extra = sorted({n for n, _ in mapped} - {n for n, _ in expected})
        differs = [n for (n, k) in mapped if (n, k) not in expected and n not in extra]
        detail = (
            f"missing {missing[0]}"
            if missing
            else f"no layer {extra[0]}"
            if extra
            else f"{differs[0]} has another shape"
        )
        raise _NoFit(f"{fields['name']} at width {fields.get('width_mult', 1.0):g}: {detail}")
    net_bns = {name for name, m in net.named_modules() if type(m).__name__ == "EnsembleBatchNorm"}
    if set(bn_names.values()) != net_bns:
        raise _NoFit(f"{fields['name']}: its BatchNorm layers differ from the toolkit's")
    data_info = {"input_shape": [int(x) for x in input_shape], "n_classes": int(n_classes)}
    model = {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items()}
    return Architecture(model, names, layout, bn_names, data_info)
