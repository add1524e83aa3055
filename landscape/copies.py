"""Masks that repeat another run's masks bit for bit, counted once in a pooled group.

Two runs can hold the same masks: random-mask runs that differ only in training fields the
null model never reads (``train.epochs``), one set of files imported twice under different
``--set`` values, ``model.batchnorm: none`` beside ``auto`` on a model without BatchNorm.
Under the default grouping each run is its own group and nothing changes. Pooled on request,
though, every copy would pair with its original at similarity 1 and count as one more
mask, so similarities, tests, accuracies and ensembles would treat one mask as two
independent ones (and two imports of one file, each numbering its own networks, would pass
for two networks that agree exactly: an interval of zero width). :func:`pooled_groups`
therefore keeps, in a pooled group, the first of every set of bit-identical masks of
different runs, in whichever network, and says how many it left out. Masks that keep every
weight (weight training) are identical by construction and all stay, as do repeats within
one run.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from landscape.grouping import CONFIG, Group, group_masks
from landscape.store.packing import pack_flat
from landscape.store.results import mask_hashes

# rows hashed per read, so a memory-mapped set is never materialised whole
_CHUNK = 256


def pooled_groups(ms, groupby=CONFIG, **kwargs) -> list[Group]:
    """:func:`landscape.grouping.group_masks` of ``ms``, with the masks of a pooled group
    that repeat an earlier mask of another run left out (see the module docstring; a network
    left without masks goes); :attr:`Group.copies` holds their positions."""
    groups = group_masks(ms.obs, groupby, **kwargs)
    if "run_id" not in ms.obs.columns or not any(g.pooled for g in groups):
        return groups
    runs = ms.obs["run_id"].astype(str).to_numpy()
    digest = _Digests(ms)
    return [_without_copies(g, runs, digest) if g.pooled else g for g in groups]


def copy_positions(ms, groupby=CONFIG, **kwargs) -> np.ndarray:
    """Positions of the masks :func:`pooled_groups` leaves out (sorted)."""
    return np.array(sorted(p for g in pooled_groups(ms, groupby, **kwargs) for p in g.copies), dtype=np.int64)


def _without_copies(group: Group, runs: np.ndarray, digest: _Digests) -> Group:
    networks, dropped = {}, []
    # over the group's networks together: an imported run numbers networks of its own, so
    # one file imported twice is the same mask in two "networks" of two runs
    first_run: dict[str, str] = {}
    several_runs = len(set(runs[group.positions])) > 1
    for net, pos in group.networks.items():
        keep = np.ones(len(pos), dtype=bool)
        if several_runs:
            for k, (p, d) in enumerate(zip(pos, digest.of(pos))):
                if d is None:  # every weight kept: equal by construction, not a copy
                    continue
                run = first_run.setdefault(d, runs[p])
                keep[k] = run == runs[p]
        if keep.any():
            networks[net] = pos[keep]
        dropped += pos[~keep].tolist()
    if not dropped:
        return group
    positions = group.positions[~np.isin(group.positions, dropped)]
    return replace(group, positions=positions, networks=networks, copies=tuple(dropped))


class _Digests:
    """The content hash of each mask row (the one the result store keys masks by), read on
    demand; None for a mask that keeps every weight."""

    def __init__(self, ms) -> None:
        self.ms = ms
        self.cache: dict[int, str | None] = {}
        (self.full,) = mask_hashes(pack_flat(np.ones((1, ms.layout.n_weights), dtype=bool), ms.layout))

    def of(self, positions: np.ndarray) -> list[str | None]:
        todo = [int(p) for p in positions if int(p) not in self.cache]
        for start in range(0, len(todo), _CHUNK):
            chunk = todo[start : start + _CHUNK]
            for p, digest in zip(chunk, mask_hashes(self.ms.rows(chunk))):
                self.cache[p] = None if digest == self.full else digest
        return [self.cache[int(p)] for p in positions]
