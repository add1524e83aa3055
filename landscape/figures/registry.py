"""The registry of named figures and of the analysis steps they depend on.

A figure is a draw function ``fn(ms) -> Axes | Figure`` registered with :func:`figure`, plus
which masks it uses (an obs query), the analysis steps it needs (computed when their slots are
missing, or the figure is skipped when a step cannot be computed here) and its print width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from landscape.registry import Registry


class FigureSkipped(Exception):
    """The data a figure needs is absent; the message says what is missing in one line."""


@dataclass(frozen=True)
class Step:
    """An analysis step: whether its result is present, and how to compute it.

    ``compute`` is None for steps that are too costly or need resources a figure build does
    not have (loss barriers need the data and a network per pair): their figures are skipped
    with ``missing`` as the reason until the step is run.
    """

    name: str
    present: Callable[[Any], bool]
    compute: Callable[[Any], None] | None
    missing: str


@dataclass(frozen=True)
class FigureSpec:
    """A named paper figure.

    Attributes
    ----------
    name
        File stem and CLI name.
    draw
        ``fn(ms) -> Axes | Figure``: calls one ``landscape.pl`` function.
    needs
        Names of analysis steps (:data:`STEPS`) to make available first.
    where
        :meth:`pandas.DataFrame.eval` query on ``obs`` choosing the masks, or a function
        ``obs -> bool per row`` (None: all).
    masks
        True when the figure needs the masks themselves (one layout); False when ``obs`` is
        enough (accuracy figures can span runs of different layouts).
    layouts
        With ``masks``: the draw function gets a list of MaskSets, one per layout (a width
        axis spans several), each with ``needs`` made available.
    one_density
        Restrict to the density with the most masks when several are present (distances
        between masks of different densities mix two effects).
    width
        ``"single"`` or ``"double"`` column.
    aspect
        Height / width.
    description
        One line for listings; it opens the caption.
    params
        Plot parameters recorded in the provenance.
    """

    name: str
    draw: Callable[[Any], Any]
    needs: tuple[str, ...] = ()
    where: str | Callable[[Any], Any] | None = None
    masks: bool = True
    one_density: bool = False
    width: str = "single"
    aspect: float = 0.75
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    layouts: bool = False


FIGURES: Registry[FigureSpec] = Registry("figure", "figures")
STEPS: Registry[Step] = Registry("analysis step", "needs")


def figure(
    name: str,
    needs: tuple[str, ...] = (),
    *,
    where: str | Callable[[Any], Any] | None = None,
    masks: bool = True,
    one_density: bool = False,
    width: str = "single",
    aspect: float = 0.75,
    params: dict[str, Any] | None = None,
    layouts: bool = False,
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register a draw function as a named figure.

    Examples
    --------
    >>> @figure("overlap_hamming", needs=("distances:hamming",))
    ... def overlap_hamming(ms):
    ...     return pl.layer_overlap(ms, metric="hamming")
    """
    for step in needs:
        STEPS.get(step)  # an unknown step is a mistake in the registration itself

    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        import inspect

        paragraph = inspect.cleandoc(fn.__doc__ or "").split("\n\n")[0]
        doc = [" ".join(line.strip() for line in paragraph.splitlines())] if paragraph else []
        spec = FigureSpec(
            name,
            fn,
            tuple(needs),
            where,
            masks,
            one_density,
            width,
            aspect,
            doc[0] if doc else "",
            dict(params or {}),
            layouts,
        )
        FIGURES.add(name, spec)
        return fn

    return register


def step(
    name: str, present: Callable[[Any], bool], compute: Callable[[Any], None] | None, missing: str
) -> Step:
    """Register an analysis step figures can depend on."""
    entry = Step(name, present, compute, missing)
    STEPS.add(name, entry)
    return entry


def ensure(ms: Any, needs: tuple[str, ...]) -> list[str]:
    """Compute the missing steps of ``needs`` on ``ms`` in place; returns the steps computed.

    Raises
    ------
    FigureSkipped
        When a step is missing and cannot be computed here.
    """
    computed = []
    for name in needs:
        entry = STEPS.get(name)
        if entry.present(ms):
            continue
        if entry.compute is None:
            raise FigureSkipped(entry.missing)
        entry.compute(ms)
        computed.append(name)
    return computed
