"""What a figure shows, in words: its selection (dataset, model, density, width, epochs, masks,
networks), the values chosen for it, and what its bars and bands run over."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from landscape.config.reads import field_read
from landscape.grouping import format_value
from landscape.networks import draws, draws_differ, initialisers, network_keys
from landscape.pl.names import method_name

#: obs column -> name in the selection, in caption order
FIELDS = (
    ("data.name", "dataset"),
    ("model.name", "model"),
    ("density", "density"),
    ("model.width_mult", "width"),
    ("train.epochs", "epochs"),
)
# held fixed by a figure: when the source has more values, the caption names the choice
CHOSEN = ("dataset", "density", "width")


def _values(obs: pd.DataFrame, column: str) -> list[Any]:
    if column not in obs.columns:
        return []
    values = obs[column].dropna()
    try:
        return sorted(pd.unique(values))
    except TypeError:
        return list(pd.unique(values.astype(str)))


def _reading(obs: pd.DataFrame, column: str) -> pd.DataFrame:
    """The masks whose configuration reads ``column`` (random masks train no epochs)."""
    if "method.name" not in obs.columns or not column.startswith("train."):
        return obs
    reads = {m: field_read(column, {"method.name": m}) for m in pd.unique(obs["method.name"])}
    return obs[obs["method.name"].map(reads).astype(bool).to_numpy()]


def selection_summary(
    obs: pd.DataFrame, available: pd.DataFrame | None = None, layouts: Sequence[Any] | None = None
) -> dict[str, Any]:
    """The selection of a figure's masks as a JSON-ready dict.

    ``available`` is the table the figure chose from (after the build's own ``where``): a
    dataset, density or width held at one value where it had several is reported under
    ``chosen``. ``layouts`` gives each mask's network layout (any hashable value): one weight
    seed in two layouts (two widths, say) draws two networks.
    """
    out: dict[str, Any] = {}
    for column, name in FIELDS:
        values = _values(_reading(obs, column), column)
        if values:
            out[name] = [v.item() if hasattr(v, "item") else v for v in values]
    if "model.hidden" in obs.columns and obs["model.hidden"].notna().any():
        out["hidden"] = sorted({format_value(v) for v in obs["model.hidden"].dropna()})
    if "method" in obs.columns:
        out["methods"] = list(dict.fromkeys(obs["method"].astype(str)))
    out["n_masks"] = int(len(obs))
    if "run_id" in obs.columns:
        out["n_configurations"] = int(obs["run_id"].nunique())
    seeds = _values(obs, "weight_seed")
    # a network is a weight seed and what it draws: one seed under two initialisers is two
    # (masks of unknown seed are not counted, as their seeds are not listed)
    keys = network_keys(obs, with_init=True)
    n_layouts = len(set(layouts)) if layouts is not None else 1
    placed = list(zip(layouts, keys)) if n_layouts > 1 else [(None, key) for key in keys]
    out["n_networks"] = max(len({p for p in placed if p[1][0] is not None}), 1)
    if n_layouts > 1:
        out["n_layouts"] = n_layouts
    if seeds:
        out["weight_seeds"] = [int(s) for s in seeds]
    if draws_differ(obs):
        raw, drawn = initialisers(obs), draws(obs)
        if raw.nunique() > 1:
            out["weight_inits"] = sorted(set(raw))
        imported = (drawn != raw).to_numpy()
        if imported.any():  # their weights are their checkpoints', never another run's
            out["imported_runs"] = int(obs.loc[imported, "run_id"].nunique())
    if available is not None:
        chosen = {}
        for column, name in FIELDS:
            if name not in CHOSEN:
                continue
            have, shown = _values(available, column), out.get(name, [])
            if len(shown) == 1 and len(have) > 1:
                chosen[name] = {"value": shown[0], "also_present": [v for v in have if v != shown[0]]}
        if chosen:
            out["chosen"] = chosen
    return out


def _list(values: Sequence[Any]) -> str:
    return ", ".join(format_value(v) for v in values)


def selection_text(summary: dict[str, Any], reasons: dict[str, str] | None = None) -> str:
    """``"digits · mlp (hidden 16-16) · density 0.5 · width 1 · 3 epochs · 24 masks of 4
    configurations in 2 networks (weight seeds 0, 1)."`` plus what was chosen and why."""
    parts = []
    if "dataset" in summary:
        parts.append(_list(summary["dataset"]))
    if "model" in summary:
        hidden = f" (hidden {', '.join(summary['hidden'])})" if summary.get("hidden") else ""
        parts.append(_list(summary["model"]) + hidden)
    for name, plural in (("density", "densities"), ("width", "widths")):
        if name in summary:
            values = summary[name]
            parts.append(f"{name} {_list(values)}" if len(values) == 1 else f"{plural} {_list(values)}")
    if "epochs" in summary:
        parts.append(f"{_list(summary['epochs'])} epochs")
    if summary.get("methods"):
        parts.append(", ".join(method_name(m) for m in summary["methods"]))
    configs = summary.get("n_configurations")
    masks = f"{summary['n_masks']} masks" + (
        f" of {configs} configurations" if configs and configs > 1 else ""
    )
    nets = summary["n_networks"]
    seeds = summary.get("weight_seeds")
    inits = summary.get("weight_inits")
    seed_text = f"weight seed{'s' if len(seeds or []) != 1 else ''} {_list(seeds)}" if seeds else ""
    if summary.get("n_layouts", 1) > 1:  # e.g. one weight seed at four widths: four networks
        seed_text += ("; " if seed_text else "") + f"{summary['n_layouts']} layouts"
    if inits:  # e.g. Edge-Popup's signed constants and Biprop's Kaiming normal values of one seed
        seed_text += ("; " if seed_text else "") + f"drawn as {_list(inits)}"
    imported = summary.get("imported_runs")
    if imported:
        runs = "1 imported run" if imported == 1 else f"{imported} imported runs"
        seed_text += ("; " if seed_text else "") + f"{runs} over its own weights"
    seed_text = f" ({seed_text})" if seed_text else ""
    masks += f" in {nets} network" + ("s" if nets != 1 else "") + seed_text
    parts.append(masks)
    text = "Selection: " + " · ".join(parts) + "."
    if summary.get("n_selected", 0) > summary["n_masks"]:
        text += f" {summary['n_selected'] - summary['n_masks']} further selected masks not drawn."
    layout = summary.get("layout")
    if layout:
        text += f" Layout {_layout_text(layout['value']) or 'with the most masks'} shown"
        text += f" ({reasons['layout']})" if reasons and "layout" in reasons else ""
        others = [_layout_text(v) for v in layout.get("also_present", [])]
        if any(others):
            text += f"; also present: {'; '.join(others)} (choose with --where)."
        else:
            text += f"; {len(others)} other layout{'s' if len(others) > 1 else ''} also present."
    # a field the layout sentence already names is not chosen a second time
    in_layout = {_LAYOUT_FIELDS.get(f, f) for f in (layout or {}).get("fields", [])}
    for name, choice in summary.get("chosen", {}).items():
        if name in in_layout:
            continue
        text += f" {name.capitalize()} {format_value(choice['value'])} shown"
        text += f" ({reasons[name]})" if reasons and name in reasons else ""
        text += f"; also present: {_list(choice['also_present'])} (choose with --where)."
    return text


# display names of the config fields that tell layouts apart
_LAYOUT_FIELDS = {**dict(FIELDS), "model.hidden": "hidden"}


def _layout_text(values: dict[str, str]) -> str:
    """``"hidden 16-16"``, ``"model conv4, width 2"``: a layout by the fields that set it apart."""
    parts = [f"{_LAYOUT_FIELDS.get(f, f.split('.')[-1].replace('_', ' '))} {v}" for f, v in values.items()]
    return ", ".join(parts)


def caption(
    description: str, notes: Sequence[str], summary: dict[str, Any], reasons: dict[str, str] | None = None
) -> str:
    """The caption ``landscape figures`` writes beside a figure and into its provenance."""
    first = description.strip()
    if first and not first.endswith("."):
        first += "."
    return " ".join(p for p in (first, *notes, selection_text(summary, reasons)) if p)
