"""EnsembleNet: the base of every model — M masks over one random network."""

from __future__ import annotations

import contextlib
import hashlib

import numpy as np
import torch
from torch import nn

from landscape.nn.init import generator, init_scores, init_weight, mask_generator
from landscape.nn.layers import EnsembleBatchNorm, MaskedLayer, MaskRule
from landscape.store.layout import Layout


class EnsembleNet(nn.Module):
    """A network whose every maskable layer carries ``n_masks`` masks.

    Subclasses build their layers in ``__init__`` and implement :meth:`forward_features`
    taking ``(M, B, *input_shape)`` and returning logits ``(M, B, n_classes)``.
    Layer names in the layout are the modules' qualified names.
    """

    def __init__(self, n_masks: int = 1) -> None:
        super().__init__()
        self.n_masks = int(n_masks)
        self.rule: MaskRule | None = None

    # structure -------------------------------------------------------------------------
    def masked_layers(self) -> list[tuple[str, MaskedLayer]]:
        return [(n, m) for n, m in self.named_modules() if isinstance(m, MaskedLayer)]

    def layout(self) -> Layout:
        return Layout((name, layer.weight_shape) for name, layer in self.masked_layers())

    def batchnorms(self) -> list[EnsembleBatchNorm]:
        return [m for m in self.modules() if isinstance(m, EnsembleBatchNorm)]

    @property
    def has_batchnorm(self) -> bool:
        return bool(self.batchnorms())

    def set_rule(self, rule: MaskRule | None) -> None:
        self.rule = rule
        for _, layer in self.masked_layers():
            layer.rule = rule

    # forward ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != self.n_masks:
            raise ValueError(f"input has {x.shape[0]} mask slices, model has {self.n_masks}")
        if self.rule is not None and any(layer.fixed_mask is None for _, layer in self.masked_layers()):
            self.rule.prepare(self)
        return self.forward_features(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # random weights and scores ---------------------------------------------------------
    @torch.no_grad()
    def init_weights(
        self, weight_seed: int, weight_init: str, density: float = 1.0, scale_fan: bool = False
    ) -> None:
        """Draw the frozen random weights of ``weight_seed`` (CPU stream, then moved)."""
        gen = generator(weight_seed, "weights")
        for _, layer in self.masked_layers():
            w = init_weight(layer.weight_shape, layer.fan_in, weight_init, gen, density, scale_fan)
            layer.weight = w.unsqueeze(0).to(device=layer.scores.device)

    @torch.no_grad()
    def init_scores(
        self, search_seeds: list[int], kind: str = "kaiming_uniform", weight_seed: int = 0
    ) -> None:
        """Draw each mask's scores from its own stream: its ``search_seed``'s in the network of
        ``weight_seed`` (:func:`landscape.nn.init.mask_generator`).

        Mask ``i`` gets exactly the scores a one-mask model with ``search_seeds[i]`` would,
        which is what makes batched and sequential searches agree.
        """
        if len(search_seeds) != self.n_masks:
            raise ValueError(f"{len(search_seeds)} search seeds for {self.n_masks} masks")
        for i, seed in enumerate(search_seeds):
            gen = mask_generator(seed, weight_seed, "scores")
            for _, layer in self.masked_layers():
                s = init_scores(layer.weight_shape, layer.fan_in, kind, gen)
                layer.scores[i].copy_(s.to(layer.scores.device))

    def weight_checksum(self) -> str:
        """sha256 over the shared random weights (float32 little-endian, layout order)."""
        h = hashlib.sha256()
        for _, layer in self.masked_layers():
            w = layer.weight[:1].detach().to("cpu", torch.float32).contiguous().numpy()
            h.update(np.ascontiguousarray(w, dtype="<f4").tobytes())
        return h.hexdigest()

    # masks --------------------------------------------------------------------------------
    @torch.no_grad()
    def current_masks(self) -> dict[str, np.ndarray]:
        """``{layer: bool ndarray (M, *shape)}`` of the masks the model uses now."""
        if self.rule is not None:
            self.rule.prepare(self)
        return {name: layer.binary_mask().cpu().numpy() for name, layer in self.masked_layers()}

    @torch.no_grad()
    def set_fixed_masks(self, masks: dict[str, np.ndarray | torch.Tensor] | None) -> None:
        """Pin masks ``{layer: bool (M, *shape)}`` (None unpins and returns to the rule)."""
        for name, layer in self.masked_layers():
            if masks is None:
                layer.fixed_mask = None
                continue
            given = masks[name]
            m = given if isinstance(given, torch.Tensor) else torch.from_numpy(np.asarray(given))
            m = m.to(device=layer.weight.device, dtype=torch.bool)
            if tuple(m.shape) != (self.n_masks, *layer.weight_shape):
                raise ValueError(f"mask for {name!r} has shape {tuple(m.shape)}")
            layer.fixed_mask = m

    def batchnorm_state(self, slot: int) -> dict[str, np.ndarray]:
        """Running statistics of mask ``slot``: ``{"<module>.running_mean" | "...running_var": (C,)}``."""
        out = {}
        for name, module in self.named_modules():
            if isinstance(module, EnsembleBatchNorm):
                c = module.num_features
                for stat in ("running_mean", "running_var"):
                    values = getattr(module.bn, stat)[slot * c : (slot + 1) * c]
                    out[f"{name}.{stat}"] = values.detach().cpu().numpy()
        return out

    @torch.no_grad()
    def load_batchnorm_state(self, slot: int, state: dict[str, np.ndarray]) -> None:
        """Put one mask's stored running statistics into ``slot`` (see :meth:`batchnorm_state`)."""
        for name, module in self.named_modules():
            if isinstance(module, EnsembleBatchNorm):
                c = module.num_features
                for stat in ("running_mean", "running_var"):
                    buf = getattr(module.bn, stat)
                    buf[slot * c : (slot + 1) * c] = torch.as_tensor(state[f"{name}.{stat}"]).to(buf)

    def reset_batchnorm(self) -> None:
        for bn in self.batchnorms():
            bn.bn.reset_running_stats()

    @torch.no_grad()
    def reestimate_batchnorm(self, x: torch.Tensor, batches) -> None:
        """Reset every BatchNorm and average its statistics over ``x[batch]`` for each batch
        (index arrays). Every slot sees the same examples. Statistics are a cumulative
        (equal-weight) average over the batches; the model is left in eval mode."""
        for bn in self.batchnorms():
            bn.bn.momentum = None
            bn.bn.reset_running_stats()
        self.train()
        for idx in batches:
            xb = x[torch.as_tensor(idx, device=x.device)]
            self(xb.unsqueeze(0).expand(self.n_masks, *xb.shape))
        self.eval()

    @contextlib.contextmanager
    def batchnorm_kept(self):
        """Every BatchNorm's running statistics and momentum as they were on entry, on exit."""
        saved = [(bn.bn.momentum, bn.bn.running_mean.clone(), bn.bn.running_var.clone(),
                  bn.bn.num_batches_tracked.clone()) for bn in self.batchnorms()]  # fmt: skip
        try:
            yield
        finally:
            with torch.no_grad():
                for bn, (momentum, mean, var, count) in zip(self.batchnorms(), saved):
                    bn.bn.momentum = momentum
                    bn.bn.running_mean.copy_(mean)
                    bn.bn.running_var.copy_(var)
                    bn.bn.num_batches_tracked.copy_(count)
