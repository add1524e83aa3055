"""Bring your own masks: checkpoints of the field's codebases and plain arrays as runs.

One module per source format (``hidden_networks``, ``biprop``, ``iwr``, ``iterand``,
``frozen``, ``er_slt``, ``arrays``) reads a file into masks under the source's own layer
names, recomputing them from stored scores with exactly that code's rule (ER_SLT's
documented rule, which its published forward does not compute: see :mod:`.er_slt`);
:mod:`._naming` maps the names onto a toolkit model; the store writes ordinary runs
(``origin.format`` names the importer, ``imports.json`` the seeds, ``meta.json`` the rule).
Everything downstream (``read_runs``, ``landscape analyze``, figures) treats them like
searched runs.

Example
-------
>>> import landscape as ls
>>> result = ls.import_masks(["ckpts/"], "runs", "hidden_networks",
...                          overrides={"data.name": "cifar10"})        # doctest: +SKIP
>>> print(result.summary())                                              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FORMATS", "import_masks"]

FORMATS = ("hidden_networks", "biprop", "iwr", "iterand", "frozen", "er_slt", "arrays")


def import_masks(
    sources: str | Path | Sequence[str | Path],
    runs_root: str | Path,
    format: str,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    *,
    rename: Mapping[str, str] | None = None,
    stacked: bool = False,
    pattern: str | Path | None = None,
    glob: str | Sequence[str] | None = None,
):
    """Import masks from foreign files into ``runs_root``.

    Parameters
    ----------
    sources
        Files, or folders searched recursively for the format's files (``glob``).
    runs_root
        Where the runs go (created when missing).
    format
        One of :data:`FORMATS` (hyphens are accepted: ``hidden-networks``).
    overrides
        Config fields (``{"method.density": 0.5, "data.name": "cifar10"}`` or
        ``["method.density=0.5", ...]``) and per-mask fields ``weight_seed``,
        ``search_seed``, ``test_acc``, ``val_acc``, ``epochs``. A field the source itself
        states must agree with it.
    rename
        ``{source name: new name}`` for arrays.
    stacked
        Arrays: the first axis of every array indexes masks.
    pattern
        The source pattern file of ER-source checkpoints (their code does not save it).
    glob
        Which files of a folder to take (default: the format's, e.g. ``**/model_best.pth``).

    Returns
    -------
    ImportResult
        ``runs`` (one summary per run written) and ``notes`` (what was assumed);
        ``summary()`` gives the printed lines. Importing the same files again adds nothing.

    Raises
    ------
    DataError, ConfigError, StoreError
        One line naming the file and key (or field) at fault.
    """
    from landscape import registries
    from landscape.importers._build import Context, run_import, split_overrides

    name = str(format).replace("-", "_")
    fmt = registries.importers.load(name)
    config, records = split_overrides(overrides)
    ctx = Context(
        format=name,
        user=config,
        records=records,
        rename=dict(rename or {}),
        stacked=bool(stacked),
        pattern=Path(pattern) if pattern is not None else None,
    )
    if isinstance(sources, (str, Path)):
        sources = [sources]
    patterns = [glob] if isinstance(glob, str) else glob
    return run_import(fmt, list(sources), runs_root, ctx, patterns)
