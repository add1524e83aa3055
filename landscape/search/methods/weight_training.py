"""Weight-training baselines: the weights are trained, the mask is a fixed (evolving) mask.

These are not strong-lottery-ticket searches: every masked layer's weight becomes a per-mask
trainable parameter (``trains_weights``), the scores are unused, and the mask is
``layer.fixed_mask``. Dense layers are trained with an all-ones mask.

``dense``
    The dense weight-trained reference line (all ones). With ``method.density < 1`` it is
    the random-pruning-at-initialisation baseline instead: a fixed uniformly random mask of
    that density per layer, from the stream of :func:`.random_masks.mask_stream` (the very
    mask the ``random`` null model draws for the same search and weight seed).
``kstarts``
    K-starts (Haroon 2022). Each mask draws ``k`` candidate masks of the target layer-wise
    density (uniform positions, stream ``(search_seed, "method", "kstarts", j)``). The weights
    are trained densely for ``select_after`` epochs (one shared dense run per mask, not k
    sparse runs) while ``sum_t g`` is accumulated per weight; then every candidate gets a
    fitness (see :func:`.pruning.candidate_fitness`), the fittest is fixed and training
    continues masked.
``dissipating``
    Dissipating gradients: after every epoch of the first ``schedule_fraction`` of training,
    still-kept weights with ``|w(t) - w(0)| <= tau |w(0)|`` are pruned (at most
    ``step · N`` per check, never below the target). A linear schedule from ``N`` to the
    target kept count over those checks is a floor on progress: when the criterion finds too
    few, the smallest relative changes are pruned too. The last check (or the last epoch,
    whichever comes first) leaves exactly the target count per layer.
``kstarts_dissipating``
    K-starts over candidates of the intermediate density ``density ** start_power``, then
    dissipating within the chosen mask down to the target, scheduled over the first
    ``schedule_fraction`` of the epochs left after the selection.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from landscape.config.validate_method import check_weight_training_source
from landscape.nn.init import mask_generator
from landscape.search.methods.base import Method, kept_count
from landscape.search.methods.pruning import candidate_fitness, dissipate_step, scheduled_kept
from landscape.search.methods.random_masks import draw_masks, ensemble_masks, mask_stream

if TYPE_CHECKING:
    from landscape.nn.base import EnsembleNet
    from landscape.nn.layers import MaskedLayer


class WeightTraining(Method):
    """Common part: trainable per-mask weights under a fixed mask held in ``layer.fixed_mask``."""

    trains_weights = True
    changes_weights = True

    def setup(self, model: EnsembleNet, weight_seed: int, search_seeds: list[int]) -> None:
        check_weight_training_source(self.cfg.method, trains_weights=True)  # also unvalidated configs
        super().setup(model, weight_seed, search_seeds)
        for _, layer in self._layers:
            layer.make_weight_trainable()
        model.set_fixed_masks(self.initial_masks(model))

    def initial_masks(self, model: EnsembleNet) -> dict[str, Tensor]:
        """The masks training starts from (all ones)."""
        return {
            n: torch.ones((model.n_masks, *layer.weight_shape), dtype=torch.bool) for n, layer in self._layers
        }

    def parameters(self, model: EnsembleNet) -> list[Tensor]:
        return [layer.weight for _, layer in model.masked_layers()]

    def mask(self, layer: MaskedLayer) -> Tensor:
        return layer.fixed_mask.to(layer.weight.dtype)

    def records(self, model: EnsembleNet) -> list[dict[str, Any]]:
        return [{} for _ in range(model.n_masks)]

    def state_dict(self) -> dict[str, Any]:
        return {"masks": {n: layer.fixed_mask.detach().cpu().clone() for n, layer in self._layers}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, layer in self._layers:
            layer.fixed_mask = state["masks"][name].to(layer.weight.device).bool()

    def _set_masks(self, masks: dict[str, Tensor]) -> None:
        for name, layer in self._layers:
            if name in masks:
                layer.fixed_mask = masks[name].to(layer.weight.device).bool()


class DenseTraining(WeightTraining):
    """Dense weight training; a fixed random mask when ``method.density < 1``."""

    def initial_masks(self, model: EnsembleNet) -> dict[str, Tensor]:
        if self.density >= 1:
            return super().initial_masks(model)
        layers = [layer for _, layer in self.searchable()]
        per_mask = [
            draw_masks(layers, self.cfg.method, self.density, mask_stream(seed, self.weight_seed))
            for seed in self.search_seeds
        ]
        return ensemble_masks(model, per_mask)


class KStarts(WeightTraining):
    """Best of ``k`` random masks, chosen after a shared dense start.

    Attributes
    ----------
    phase
        ``"select"`` (dense training, accumulating gradients) or ``"masked"``.
    chosen
        Index of the chosen candidate per mask (after selection).
    fitness
        ``(M, k)`` fitness of every candidate (after selection).
    """

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.phase = "select"
        self.grad_sum: dict[str, Tensor] = {}
        self.chosen: list[int] = []
        self.fitness: Tensor | None = None
        self._hooked: dict[str, tuple[Tensor, Any]] = {}

    def candidate_density(self) -> float:
        """Density of the candidate masks (the target for plain K-starts)."""
        return self.density

    def setup(self, model: EnsembleNet, weight_seed: int, search_seeds: list[int]) -> None:
        super().setup(model, weight_seed, search_seeds)
        self.phase, self.chosen, self.fitness, self.grad_sum = "select", [], None, {}
        self._hook_weights()

    # gradient accumulation ---------------------------------------------------------------
    def _hook_weights(self) -> None:
        # a tensor hook sees every backward pass whatever the training loop does around it;
        # re-hooked when a checkpoint load swapped the parameter object
        for name, layer in self.searchable():
            weight = layer.weight
            hooked = self._hooked.get(name)
            if hooked is not None and hooked[0] is weight:
                continue
            if hooked is not None:
                hooked[1].remove()
            handle = weight.register_hook(lambda g, name=name: self._accumulate(name, g))
            self._hooked[name] = (weight, handle)

    def _accumulate(self, name: str, grad: Tensor) -> None:
        if self.phase != "select":
            return
        acc = self.grad_sum.get(name)
        if acc is None or acc.device != grad.device:
            acc = torch.zeros_like(grad) if acc is None else acc.to(grad.device)
        self.grad_sum[name] = acc + grad.detach()

    def _unhook(self) -> None:
        for _, handle in self._hooked.values():
            handle.remove()
        self._hooked = {}

    def before_step(self, model: EnsembleNet, step: int) -> None:
        if self.phase == "select":
            self._hook_weights()

    # selection ----------------------------------------------------------------------------
    def after_epoch(self, model: EnsembleNet, epoch: int, is_last: bool) -> None:
        if self.phase == "select" and (epoch + 1 >= self.cfg.method.kstarts.select_after or is_last):
            self.select(model)

    def final_form(self, epoch: int) -> bool:
        return self.phase == "masked"  # the dense phase before the selection is not a mask

    def candidates(self, i: int, j: int) -> list[Tensor]:
        """Candidate ``j`` of mask ``i``: bool masks of the searchable layers (CPU)."""
        gen = mask_generator(self.search_seeds[i], self.weight_seed, "method", "kstarts", j)
        layers = [layer for _, layer in self.searchable()]
        return draw_masks(layers, self.cfg.method, self.candidate_density(), gen)

    @torch.no_grad()
    def select(self, model: EnsembleNet) -> None:
        """Score every candidate, fix the fittest per mask and leave the dense phase."""
        kc = self.cfg.method.kstarts
        named = self.searchable()
        m = model.n_masks
        mag = torch.zeros((m, kc.k), dtype=torch.float64)
        grad = torch.zeros((m, kc.k), dtype=torch.float64)
        picks: list[list[Tensor]] = []
        for i in range(m):
            cands = [self.candidates(i, j) for j in range(kc.k)]
            for j, cand in enumerate(cands):
                for (name, layer), c in zip(named, cand):
                    c = c.to(layer.weight.device)
                    mag[i, j] += float((layer.weight[i].abs() * c).sum())
                    acc = self.grad_sum.get(name)
                    if acc is not None:
                        grad[i, j] += float((acc[i].abs() * c).sum())
            picks.append(cands)
        self.fitness = candidate_fitness(mag, grad, kc.fitness)
        self.chosen = [int(torch.argmax(self.fitness[i])) for i in range(m)]
        masks = ensemble_masks(model, [picks[i][self.chosen[i]] for i in range(m)])
        self._set_masks(masks)
        self.phase, self.grad_sum = "masked", {}
        self._unhook()

    def records(self, model: EnsembleNet) -> list[dict[str, Any]]:
        """Per-mask extras for the run table: chosen candidate and its fitness."""
        if self.fitness is None:
            return [{} for _ in range(model.n_masks)]
        return [
            {"kstarts_choice": c, "kstarts_fitness": float(self.fitness[i, c])}
            for i, c in enumerate(self.chosen)
        ]

    # checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["kstarts"] = {
            "phase": self.phase,
            "grad_sum": {n: t.detach().cpu().clone() for n, t in self.grad_sum.items()},
            "chosen": list(self.chosen),
            "fitness": None if self.fitness is None else self.fitness.clone(),
        }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        ks = state["kstarts"]
        self.phase, self.chosen = ks["phase"], list(ks["chosen"])
        self.fitness = None if ks["fitness"] is None else ks["fitness"].clone()
        devices = {n: layer.weight.device for n, layer in self._layers}
        self.grad_sum = {n: t.to(devices[n]) for n, t in ks["grad_sum"].items()}
        if self.phase == "select":
            self._hook_weights()
        else:
            self._unhook()


class DissipatingGradients(WeightTraining):
    """Prune weights that stay within ``tau`` of their initial value, on a schedule.

    Attributes
    ----------
    schedule_fraction
        Fraction of the (remaining) epochs over which pruning reaches the target (0.5).
    """

    schedule_fraction: float = 0.5

    def setup(self, model: EnsembleNet, weight_seed: int, search_seeds: list[int]) -> None:
        super().setup(model, weight_seed, search_seeds)
        self.initial = {n: layer.weight.detach().cpu().clone() for n, layer in self.searchable()}
        self.start_epoch = 0

    def n_checks(self) -> int:
        left = self.cfg.train.epochs - self.start_epoch
        return max(1, math.ceil(left * self.schedule_fraction))

    def final_form(self, epoch: int) -> bool:
        # the checks of epochs start_epoch .. epoch - 1 have run
        return epoch - self.start_epoch >= self.n_checks()

    def after_epoch(self, model: EnsembleNet, epoch: int, is_last: bool) -> None:
        self.dissipate(epoch, is_last)

    @torch.no_grad()
    def dissipate(self, epoch: int, is_last: bool) -> None:
        """One check at the end of ``epoch`` (no-op before ``start_epoch``)."""
        if epoch < self.start_epoch:
            return
        dc = self.cfg.method.dissipate
        n_checks = self.n_checks()
        check = n_checks if is_last else epoch - self.start_epoch + 1
        if check > n_checks:
            return
        for name, layer in self.searchable():
            n = layer.numel
            target = kept_count(n, self.density)
            sched = scheduled_kept(n, target, check, n_checks)
            layer.fixed_mask = dissipate_step(
                layer.fixed_mask, layer.weight, self.initial[name], dc.tau, target, sched, dc.step
            )

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["dissipate"] = {"initial": dict(self.initial), "start_epoch": self.start_epoch}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.initial = {n: t.clone() for n, t in state["dissipate"]["initial"].items()}
        self.start_epoch = int(state["dissipate"]["start_epoch"])


class KStartsDissipating(KStarts, DissipatingGradients):
    """K-starts at an intermediate density, then dissipating within the chosen mask.

    Attributes
    ----------
    start_power
        Candidates have density ``density ** start_power`` (0.5: the geometric midpoint
        between dense and the target).
    """

    start_power: float = 0.5

    def candidate_density(self) -> float:
        return self.density**self.start_power

    def setup(self, model: EnsembleNet, weight_seed: int, search_seeds: list[int]) -> None:
        super().setup(model, weight_seed, search_seeds)
        self.start_epoch = self.cfg.method.kstarts.select_after

    def final_form(self, epoch: int) -> bool:
        return KStarts.final_form(self, epoch) and DissipatingGradients.final_form(self, epoch)

    def after_epoch(self, model: EnsembleNet, epoch: int, is_last: bool) -> None:
        if self.phase == "select":
            KStarts.after_epoch(self, model, epoch, is_last)
            if self.phase == "masked":
                # dissipating starts with the epoch after the selection
                self.start_epoch = epoch + 1
                if is_last:
                    self.dissipate(epoch + 1, True)
            return
        self.dissipate(epoch, is_last)
