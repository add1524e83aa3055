"""Random crop of a padded image and horizontal flip, vectorised over masks and examples."""

from __future__ import annotations

import torch


class CropFlip:
    """``RandomCrop(size, padding=pad)`` + ``RandomHorizontalFlip(0.5)`` for every example.

    Called as ``augment(x, generators)`` on ``x`` of shape ``(M, B, C, H, W)`` (any device)
    with one CPU ``torch.Generator`` per mask. Mask ``m`` draws, from its own generator, B
    crop offset pairs and then B flips; the number of draws depends only on B, so a mask is
    augmented identically whether it runs alone or in a batch of masks. The crop keeps the
    input size.

    ``fill`` is the value of the padding per channel (default 0). Data normalised before
    augmentation pads with the normalised value of a black pixel, ``-mean / std``, as a
    ``RandomCrop`` of the raw image followed by ``Normalize`` does.
    """

    def __init__(self, pad: int = 4, fill: tuple[float, ...] | None = None) -> None:
        self.pad = int(pad)
        self.fill = None if fill is None else tuple(float(v) for v in fill)
        self._fills: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fills": {}}  # device tensors stay with their process

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({"_fills": {}, **state})

    def __repr__(self) -> str:
        return (
            f"CropFlip(pad={self.pad})"
            if self.fill is None
            else f"CropFlip(pad={self.pad}, fill={self.fill})"
        )

    def draw(self, batch: int, generators: list[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
        """Offsets ``(M, B, 2)`` in ``[0, 2*pad]`` and flips ``(M, B)`` bool, on the CPU."""
        offsets, flips = [], []
        for gen in generators:
            offsets.append(torch.randint(0, 2 * self.pad + 1, (batch, 2), generator=gen))
            flips.append(torch.rand(batch, generator=gen) < 0.5)
        return torch.stack(offsets), torch.stack(flips)

    def plan(
        self, batch_sizes: list[int], generators: list[torch.Generator]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The draws of a whole epoch at once: offsets ``(M, sum(B), 2)`` and flips ``(M, sum(B))``.

        Batch ``s`` of the epoch takes columns ``[B_0 + ... + B_{s-1}, ... + B_s)``: exactly
        what ``draw`` returns for it when called step by step, so a training loop can move
        one epoch's draws to the device once instead of copying at every step.
        """
        steps = [self.draw(b, generators) for b in batch_sizes]
        return torch.cat([o for o, _ in steps], dim=1), torch.cat([f for _, f in steps], dim=1)

    def __call__(self, x: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"augment expects x of shape (M, B, C, H, W), got {tuple(x.shape)}")
        if len(generators) != x.shape[0]:
            raise ValueError(f"{len(generators)} generators for {x.shape[0]} masks")
        offsets, flips = self.draw(x.shape[1], generators)
        return self.apply(x, offsets, flips)

    def apply(self, x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        """Crop and flip ``x`` ``(M, B, C, H, W)`` with given draws (see :meth:`draw`)."""
        m, b, c, h, w = x.shape
        offsets, flips = offsets.to(x.device), flips.to(x.device)
        p = self.pad
        hp, wp = h + 2 * p, w + 2 * p
        padded = self._pad(x).reshape(m * b, c, hp * wp)
        ar_h = torch.arange(h, device=x.device)
        ar_w = torch.arange(w, device=x.device)
        rows = offsets[..., 0, None] + ar_h  # (M, B, H)
        # a flip reads the crop's columns right to left
        cols = offsets[..., 1, None] + torch.where(flips[..., None], w - 1 - ar_w, ar_w)  # (M, B, W)
        # one gather over flattened pixels: faster than advanced indexing on the CPU
        index = (rows[..., :, None] * wp + cols[..., None, :]).reshape(m * b, 1, h * w)
        out = padded.gather(2, index.expand(-1, c, -1))
        return out.reshape(x.shape)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad
        if self.fill is None:
            return torch.nn.functional.pad(x, (p, p, p, p))
        m, b, c, h, w = x.shape
        if len(self.fill) != c:
            raise ValueError(f"fill has {len(self.fill)} values for {c} channels")
        padded = self._fill(x.dtype, x.device).expand(m, b, c, h + 2 * p, w + 2 * p).clone()
        padded[..., p : p + h, p : p + w] = x
        return padded

    def prepare(self, device: torch.device | str, dtype: torch.dtype) -> None:
        """Build the fill on ``device`` now, so that no step of a training loop copies it there."""
        if self.fill is not None:
            self._fill(dtype, device)

    def _fill(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The fill as ``(1, 1, C, 1, 1)``, built once per device and dtype: a tensor made from
        Python values is a blocking host-to-device copy, which must not happen every step."""
        key = (torch.device(device), dtype)
        if key not in self._fills:
            fill = torch.tensor(self.fill, dtype=dtype, device=device)
            self._fills[key] = fill.view(1, 1, len(self.fill), 1, 1)
        return self._fills[key]
