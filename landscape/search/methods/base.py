"""The :class:`Method` base class and the exact top-k machinery every score method shares.

A method object plays two roles at once:

- it is the model's *mask rule* (``prepare``, ``mask``, ``effective_weight``, see
  :class:`landscape.nn.layers.MaskRule`), called on every forward pass;
- it supplies the *hooks* the training loop calls (``setup``, ``parameters``,
  ``before_step``, ``after_epoch``, ``state_dict``/``load_state_dict``).

Order of calls expected from the training loop::

    model.init_weights(weight_seed, ...)      # the frozen random network
    model.init_scores(search_seeds, ...)      # one score stream per mask
    method.setup(model, weight_seed, search_seeds)
    # optional: model.load_state_dict(...) / method.load_state_dict(...) to resume
    method.set_steps_per_epoch(n_batches)
    for epoch ...:
        method.before_epoch(model, epoch)
        for step ...:
            method.before_step(model, global_step)
            loss = ...; loss.backward(); optimizer.step()   # over method.parameters(model)
            method.after_step(model, global_step)
        method.after_epoch(model, epoch, is_last)

``setup`` must run after ``init_weights``: methods that change weights give every mask its
own copy (``layer.expand_weight``) or turn the weights into parameters, and they capture
the initial values there.

Kept counts
-----------
A layer of ``N`` weights at density ``d`` keeps exactly ``N - floor((1 - d) N)`` weights
(the reference ``GetSubnet`` rule), computed in exact rational arithmetic on the decimal ``d``
prints as, so that ``d = 0.9, N = 10`` keeps 9 and not 10 and ``d = 0.054`` at
``N = 11,164,352`` keeps 602,876. The top-k is a threshold per row (numpy's
introselect on the CPU, ``kthvalue`` elsewhere; both far faster than a sort), checked for
the exact count; only rows whose count ties broke are resolved, keeping the lowest indices among
tied values (on accelerators, and on every torch route of :mod:`.select`, the tie resolution
always runs, to avoid a host sync).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from landscape.search.methods import select

if TYPE_CHECKING:
    from landscape.config import SearchConfig
    from landscape.nn.base import EnsembleNet
    from landscape.nn.layers import MaskedLayer

# A fraction is taken as the decimal it prints as (its shortest repr: 0.054 is 54/1000, not
# the binary double nearest it), and the product with N is exact rational arithmetic. A
# fraction computed in floats (an annealed density, a ratio of densities) carries a few ulps
# of error, so a product within N * 2**-50 of an integer counts as that integer. A decimal
# of up to six digits gives d * N a fractional part of at least 1e-6, above that tolerance
# for any N below 1e9. (A tolerance relative to d * N grows past real fractional parts:
# 0.008 at N = 11,164,352.)
_ULPS = 2.0**-50


@lru_cache(maxsize=65536)
def _floor_times(n: int, fraction: float, complement: bool) -> int:
    """``floor(f * n)`` for ``f = fraction`` (or ``1 - fraction``), ``fraction`` read as its repr."""
    f = Fraction(repr(fraction))
    if complement:
        f = 1 - f
    x = f * n
    nearest = round(x)
    if abs(x - nearest) <= n * _ULPS:
        return int(nearest)
    return math.floor(x)


def kept_count(n: int, density: float) -> int:
    """Number of weights kept out of ``n`` at ``density``: ``n - floor((1 - density) n)``.

    Parameters
    ----------
    n
        Number of weights.
    density
        Fraction kept, in [0, 1], taken as the decimal it prints as (see ``_floor_times``).

    Returns
    -------
    int
        The kept count, in ``[0, n]``; at least 1 whenever ``density > 0``.
    """
    n = int(n)
    return int(min(n, max(0, n - _floor_times(n, float(density), True))))


def floor_count(n: int, fraction: float) -> int:
    """``floor(fraction * n)``, computed as :func:`kept_count` computes its floor."""
    n = int(n)
    return int(min(n, max(0, _floor_times(n, float(fraction), False))))


def topk_mask(values: Tensor, k: int | Tensor) -> Tensor:
    """Exact top-k per row: bool ``(R, N)`` with exactly ``k`` True entries in every row.

    Parameters
    ----------
    values
        ``(R, N)`` ranking keys (``+inf``/``-inf`` allowed for forced entries).
    k
        Number of entries to keep in each row (the same for every row).

    Returns
    -------
    Tensor
        bool ``(R, N)``. Among values tied at the threshold the lowest indices are kept, on
        every device, so masks never depend on the hardware.
    """
    r, n = values.shape
    k = int(k)
    if k <= 0:
        return torch.zeros((r, n), dtype=torch.bool, device=values.device)
    if k >= n:
        return torch.ones((r, n), dtype=torch.bool, device=values.device)
    route = select.resolve(values)
    if route != "numpy":
        # no host read (no sync on accelerators): always resolve ties, cheap next to the selection
        return _break_ties(values, select.kth_largest_torch(values, k, route), k)
    threshold = _kth_largest(values, k)
    mask = values >= threshold
    bad = torch.from_numpy(
        np.flatnonzero(np.count_nonzero(mask.numpy(), axis=1) != k)
    )  # numpy: ~5x torch.count_nonzero
    if bad.numel():
        # ties at the threshold broke the count: redo only those rows exactly
        mask[bad] = _break_ties(values[bad], threshold[bad], k)
    return mask


def _kth_largest(values: Tensor, k: int) -> Tensor:
    """``(R, 1)`` value of the k-th largest entry per row.

    On the CPU numpy's introselect (``np.partition``) is about 7x faster than
    ``Tensor.kthvalue`` for rows of 10^4-10^6 entries; the value is the same. Other devices
    (or a torch top-k route, see :mod:`.select`) use torch's selection.
    """
    route = select.resolve(values)
    if route == "numpy":
        rows = values.detach().contiguous().numpy()
        return torch.from_numpy(kth_largest_rows(rows, k)[:, None])
    return select.kth_largest_torch(values, k, route)


# below this many values a thread hand-off costs more than it saves
_PARALLEL_SELECT_MIN = 1 << 17


@lru_cache(maxsize=4)
def _select_pool(workers: int, pid: int) -> ThreadPoolExecutor:
    # keyed by process: a forked child inherits the pool object but none of its threads
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="landscape-topk")


def kth_largest_rows(rows: np.ndarray, k: int, in_place: bool = False) -> np.ndarray:
    """``(R,)`` k-th largest value of every row of ``rows`` ``(R, N)``, ``1 <= k <= N``.

    With ``in_place`` the rows are reordered instead of copied. Rows are split over
    ``torch.get_num_threads()`` threads when there is enough work (``np.partition``
    releases the GIL); each row's value does not depend on the split.
    """
    work = rows if in_place else rows.copy()
    r, n = work.shape
    kth = n - k
    workers = min(torch.get_num_threads(), r)
    if workers <= 1 or work.size < _PARALLEL_SELECT_MIN:
        work.partition(kth, axis=1)
    else:
        bounds = np.linspace(0, r, workers + 1).astype(int)
        chunks = [work[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        list(_select_pool(workers, os.getpid()).map(lambda chunk: chunk.partition(kth, axis=1), chunks))
    return work[:, kth].copy()


def _break_ties(values: Tensor, threshold: Tensor, k: int) -> Tensor:
    """Everything above the threshold plus the first tied entries up to ``k`` per row."""
    above = values > threshold
    tied = values == threshold
    room = k - above.sum(dim=1, keepdim=True)
    return above | (tied & (tied.cumsum(dim=1, dtype=torch.int32) <= room))  # int32: half the temporary


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hard: Tensor, source: Tensor) -> Tensor:
        return hard.to(source.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor]:
        return None, grad


def straight_through(mask: Tensor, source: Tensor) -> Tensor:
    """Float 0/1 ``mask`` whose gradient passes unchanged to ``source``.

    The value is exactly ``mask``; the backward pass treats ``d mask / d source`` as the
    identity. That is Edge-Popup's straight-through estimator when ``source = |S|`` (the
    abs then multiplies the gradient by ``sign(S)``) and IteRand's when ``source = S``.
    """
    return _StraightThrough.apply(mask, source)


def forced_keys(keys: Tensor, frozen: Tensor | None) -> Tensor:
    """Ranking keys with frozen-pruned entries at ``-inf`` and locked entries at ``+inf``."""
    if frozen is None:
        return keys
    keys = torch.where(frozen < 0, torch.full_like(keys, -math.inf), keys)
    return torch.where(frozen > 0, torch.full_like(keys, math.inf), keys)


def apply_frozen(mask: Tensor, frozen: Tensor | None) -> Tensor:
    """Enforce a frozen pattern on a bool mask (never-kept off, always-kept on)."""
    if frozen is None:
        return mask
    return (mask & (frozen >= 0)) | (frozen > 0)


class Method:
    """Base class of the search methods (mask rule + training hooks).

    Parameters
    ----------
    cfg
        The full search configuration; methods read ``cfg.method`` (and, where relevant,
        ``cfg.model`` for the weight initialiser and ``cfg.train`` for epoch counts).

    Attributes
    ----------
    trains_weights
        Optimise the weights instead of the scores (weight-training baselines).
    changes_weights
        The final weights differ from the regenerated random ones (store them).
    batchable
        ``M > 1`` masks may share one model (true for every method here).
    needs_training
        False for the random-mask null model (no optimisation at all).
    """

    trains_weights: bool = False
    changes_weights: bool = False
    batchable: bool = True
    needs_training: bool = True

    def __init__(self, cfg: SearchConfig) -> None:
        self.cfg = cfg
        self.density = float(cfg.method.density)
        self.weight_seed: int | None = None
        self.search_seeds: list[int] = []
        self.steps_per_epoch: int | None = None
        self._layers: list[tuple[str, MaskedLayer]] = []

    # training hooks ------------------------------------------------------------------------
    def setup(self, model: EnsembleNet, weight_seed: int, search_seeds: list[int]) -> None:
        """Attach to ``model``: set the rule, build sources, expand weights as needed."""
        if len(search_seeds) != model.n_masks:
            raise ValueError(f"{len(search_seeds)} search seeds for a model with {model.n_masks} masks")
        self.weight_seed = int(weight_seed)
        self.search_seeds = [int(s) for s in search_seeds]
        self._layers = model.masked_layers()
        model.set_rule(self)

    def parameters(self, model: EnsembleNet) -> list[Tensor]:
        """What the optimiser updates: the scores of every searchable (non-dense) layer."""
        return [layer.scores for _, layer in model.masked_layers() if not layer.dense]

    def before_epoch(self, model: EnsembleNet, epoch: int) -> None:
        """Called at the start of epoch ``epoch`` (0-based), before its first step."""

    def set_steps_per_epoch(self, n: int) -> None:
        """Called once before training: the optimiser steps of one epoch (schedules in epochs)."""
        self.steps_per_epoch = int(n)

    def before_step(self, model: EnsembleNet, step: int) -> None:
        """Called before the forward pass of global step ``step`` (0-based)."""

    def after_step(self, model: EnsembleNet, step: int) -> None:
        """Called after the optimiser update of global step ``step`` (0-based)."""

    def final_form(self, epoch: int) -> bool:
        """Whether the network evaluated at the end of ``epoch`` (before its end-of-epoch step)
        has the method's final form: the best-by-validation epoch is chosen among those only,
        so it never names a network the stored masks are not (a dense phase, a mask still
        being pruned). The last epoch always has it."""
        return True

    def after_epoch(self, model: EnsembleNet, epoch: int, is_last: bool) -> None:
        """Called at the end of epoch ``epoch`` (0-based): after its evaluation and snapshot,
        except at the last epoch, whose evaluation and stored masks follow this step."""

    # mask rule --------------------------------------------------------------------------------
    def prepare(self, model: EnsembleNet) -> None:
        """Called once before each forward pass (global thresholds are computed here)."""

    def mask(self, layer: MaskedLayer) -> Tensor:
        """Float 0/1 mask ``(M, *shape)`` with a straight-through gradient."""
        raise NotImplementedError

    def effective_weight(self, layer: MaskedLayer, mask: Tensor) -> Tensor:
        """``mask * weight`` (Edge-Popup); Biprop overrides it."""
        return mask * layer.weight

    # bookkeeping ------------------------------------------------------------------------------
    def stored_bits(self, model: EnsembleNet) -> int:
        """Bits needed to store one mask: the searchable (non-dense, non-frozen) weights.

        Weights and any frozen pattern are regenerated from seeds, so only these bits carry
        information (the model-size accounting of partially frozen networks).
        """
        total = 0
        for _, layer in model.masked_layers():
            if layer.dense:
                continue
            if layer.frozen is None:
                total += layer.numel
            else:
                total += int((layer.frozen[0] == 0).sum())
        return total

    def records(self, model: EnsembleNet) -> list[dict[str, Any]]:
        """Per-mask extras for the run table (here: ``stored_bits``, the same for every mask)."""
        bits = self.stored_bits(model)
        return [{"stored_bits": bits} for _ in range(model.n_masks)]

    def state_dict(self) -> dict[str, Any]:
        """Everything beyond the model's own state needed to resume mid-run."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (call after :meth:`setup` on the rebuilt model)."""

    # helpers ----------------------------------------------------------------------------------
    def searchable(self) -> list[tuple[str, MaskedLayer]]:
        """The non-dense layers of the attached model, in layout order."""
        return [(n, layer) for n, layer in self._layers if not layer.dense]
