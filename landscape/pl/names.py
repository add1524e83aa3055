"""Display names: methods, group labels and layers as a reader of a paper expects them.

Tables and ``_prepare_*`` functions keep the identifiers (``edge_popup · density 0.3``);
only what is drawn goes through these functions (``Edge-Popup · density 0.3``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Display name of each method identifier (``method.name``).
METHOD_NAMES = {
    "edge_popup": "Edge-Popup",
    "biprop": "Biprop",
    "iterand": "IteRand",
    "random": "random masks",
    "dense": "dense (weights trained)",
    "kstarts": "K-starts",
    "dissipating": "dissipating gradients",
    "kstarts_dissipating": "K-starts + dissipating",
}
#: Display names of the suffixes of the ``method`` column (``edge_popup+recycle``).
SUFFIX_NAMES = {"recycle": "IWR", "er": "ER source", "frozen": "frozen source"}

_POOLS = re.compile(r"^(?P<body>.*?)(?P<tail> \(pools .*\)| \[.*\])?$")


def is_method(token: str) -> bool:
    """Whether ``token`` is a method identifier, with or without suffixes."""
    return str(token).split("+")[0] in METHOD_NAMES


def method_name(method: str) -> str:
    """``"biprop+recycle"`` -> ``"Biprop + IWR"``; unknown names are returned unchanged."""
    base, *suffixes = str(method).split("+")
    if base not in METHOD_NAMES:
        return str(method)
    return " + ".join([METHOD_NAMES[base], *(SUFFIX_NAMES.get(s, s) for s in suffixes)])


def method_part(label: str) -> str | None:
    """The method identifier inside a group label (``"biprop · epochs 2"`` -> ``"biprop"``),
    or None when the label does not name one (groups that differ in another field only)."""
    body = _POOLS.match(str(label)).group("body")
    for part in body.split(" · "):
        if is_method(part):
            return part
    return None


def display_label(label: str) -> str:
    """A group label with method identifiers replaced by display names; a label of a pair
    of groups (``"a × b"``) and a pooled label (``"… (pools epochs 1, 3)"``) keep their form."""
    text = str(label)
    if " × " in text:
        return " × ".join(display_label(p) for p in text.split(" × "))
    match = _POOLS.match(text)
    body, tail = match.group("body"), match.group("tail") or ""
    parts = [method_name(p) if is_method(p) else p for p in body.split(" · ")]
    return " · ".join(parts) + tail


#: label fields that belong to a method's recipe: hidden in legends where they follow from
#: the method (the caption still names them, see :func:`recipe_note`)
RECIPE_FIELDS = ("init", "scale_fan", "lr", "score init", "optimizer", "momentum", "weight decay")


def _split(labels: Sequence[str]) -> dict[str, tuple[list[str], str]]:
    out = {}
    for label in labels:
        match = _POOLS.match(label)
        out[label] = (match.group("body").split(" · "), match.group("tail") or "")
    return out


def _recipe_parts(split: dict[str, tuple[list[str], str]]) -> set[int]:
    """Positions of label parts that are recipe fields following from the method part."""
    sizes = {len(parts) for parts, _ in split.values()}
    if len(sizes) != 1 or len(split) < 2 or not all(is_method(parts[0]) for parts, _ in split.values()):
        return set()
    drop = set()
    for k in range(1, sizes.pop()):
        fields = {parts[k].rsplit(" ", 1)[0] for parts, _ in split.values()}
        if len(fields) != 1 or fields.pop() not in RECIPE_FIELDS:
            continue
        seen: dict[str, set[str]] = {}
        for parts, _ in split.values():
            seen.setdefault(parts[0], set()).add(parts[k])
        if all(len(v) == 1 for v in seen.values()):
            drop.add(k)
    return drop


def display_names(labels: Sequence[str]) -> dict[str, str]:
    """``{label: display name}`` for the groups shown together in one plot.

    Besides :func:`display_label`, a recipe field (:data:`RECIPE_FIELDS`) that follows from
    the method among these groups (every Biprop group has ``init kaiming_normal``, every
    Edge-Popup one ``init signed_constant``) is left out of the legend; :func:`recipe_note`
    says what was left out, for the caption. Fields such as epochs, density or width always
    stay, and labels that would become equal keep every field.
    """
    labels = [str(label) for label in dict.fromkeys(labels)]
    split = _split(labels)
    drop = _recipe_parts(split)
    out = {}
    for label, (parts, tail) in split.items():
        out[label] = display_label(" · ".join(p for k, p in enumerate(parts) if k not in drop) + tail)
    if len(set(out.values())) < len(out):  # never merge two groups in a legend
        return {label: display_label(label) for label in labels}
    return out


def recipe_note(labels: Sequence[str]) -> str:
    """The recipe fields :func:`display_names` leaves out of a legend, per method
    (``"Recipes: Biprop init kaiming_normal, scale_fan true."``), or ``""``."""
    labels = [str(label) for label in dict.fromkeys(labels)]
    split = _split(labels)
    drop = _recipe_parts(split)
    if not drop:
        return ""
    per_method: dict[str, list[str]] = {}
    for parts, _ in split.values():
        per_method.setdefault(parts[0], [parts[k] for k in sorted(drop)])
    return "Recipes: " + "; ".join(f"{method_name(m)} {', '.join(v)}" for m, v in per_method.items()) + "."


_FC = re.compile(r"fcs\.(\d+)")
_CONV = re.compile(r"convs\.(\d+)")
_RESNET = re.compile(r"layer(\d+)\.(\d+)\.(conv(\d+)|shortcut\.0)")


def layer_label(name: str, shape: Sequence[int] | None = None) -> str:
    """``fcs.0`` of shape ``(256, 64)`` -> ``"fc 1 (64→256)"``; ``convs.2`` -> ``"conv 3"``;
    ResNet layers ``layer2.1.conv1`` -> ``"stage 2 block 2 conv 1"``; others unchanged."""
    name = str(name)
    sizes = f" ({shape[1]}→{shape[0]})" if shape is not None and len(shape) == 2 else ""
    if m := _FC.fullmatch(name):
        return f"fc {int(m.group(1)) + 1}{sizes}"
    if m := _CONV.fullmatch(name):
        return f"conv {int(m.group(1)) + 1}"
    if m := _RESNET.fullmatch(name):
        part = f"conv {m.group(4)}" if m.group(4) else "shortcut"
        return f"stage {m.group(1)} block {int(m.group(2)) + 1} {part}"
    if name == "conv1":
        return "stem conv"
    if name == "fc":
        return f"fc{sizes}"
    return name


def layer_labels(layout, shapes: bool = True) -> list[str]:
    """Display names of a layout's layers (with their sizes for linear layers)."""
    return [layer_label(s.name, s.shape if shapes else None) for s in layout]
