"""Per-mask array files of a run: final weights, BatchNorm statistics and source patterns,
one npz per mask.

``<run>/<kind>/w<weight_seed>-s<search_seed>.npz`` (compressed float32; int8 for patterns),
written atomically. Methods that change weights (IWR, IteRand, weight training) store each
mask's final weights, so a rebuilt network is the searched one; models with BatchNorm store
each mask's running statistics, so a rebuilt network reproduces its recorded accuracy.
Imported masks keep the weights and the source pattern (ER or partially frozen) their
checkpoint carried, since neither can be regenerated from a seed.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from landscape.errors import StoreError
from landscape.store import _io


class PerMaskFiles:
    """Mixed into :class:`~landscape.store.run_store.RunStore` (needs ``path``, ``run_id``, ``layout``)."""

    path: Path
    run_id: str

    def _mask_file(self, kind: str, weight_seed: int, search_seed: int) -> Path:
        return self.path / kind / f"w{int(weight_seed)}-s{int(search_seed)}.npz"

    def _save_arrays(
        self, kind: str, weight_seed: int, search_seed: int, arrays: dict, dtype=np.float32
    ) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v, dtype=dtype) for k, v in arrays.items()})
        path = self._mask_file(kind, weight_seed, search_seed)
        path.parent.mkdir(exist_ok=True)
        _io.write_atomic(path, buf.getvalue())

    def _load_arrays(self, kind: str, weight_seed: int, search_seed: int, what: str) -> dict[str, np.ndarray]:
        path = self._mask_file(kind, weight_seed, search_seed)
        if not path.exists():
            raise StoreError(f"{path}: missing (run {self.run_id} stored no {what} for this mask)")
        try:
            with np.load(path) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError) as exc:
            raise StoreError(f"{path}: unreadable {what} ({type(exc).__name__})") from None

    def has_weights(self, weight_seed: int, search_seed: int) -> bool:
        return self._mask_file("weights", weight_seed, search_seed).exists()

    def save_weights(self, weight_seed: int, search_seed: int, tensors: dict[str, np.ndarray]) -> None:
        """Store one mask's final weights (a method changed them) as compressed float32 npz."""
        missing = [s.name for s in self.layout if s.name not in tensors]
        if missing:
            raise ValueError(f"weights for layers {missing} are missing")
        self._save_arrays("weights", weight_seed, search_seed, tensors)

    def load_weights(self, weight_seed: int, search_seed: int) -> dict[str, np.ndarray]:
        out = self._load_arrays("weights", weight_seed, search_seed, "weights")
        path = self._mask_file("weights", weight_seed, search_seed)
        for spec in self.layout:
            if spec.name not in out or out[spec.name].shape != spec.shape:
                raise StoreError(f"{path}: weights for layer {spec.name!r} missing or of the wrong shape")
        return out

    def has_batchnorm(self, weight_seed: int, search_seed: int) -> bool:
        return self._mask_file("batchnorm", weight_seed, search_seed).exists()

    def save_batchnorm(self, weight_seed: int, search_seed: int, stats: dict[str, np.ndarray]) -> None:
        """Store one mask's BatchNorm running statistics (``{"<module>.running_mean": ...}``)."""
        self._save_arrays("batchnorm", weight_seed, search_seed, stats)

    def load_batchnorm(self, weight_seed: int, search_seed: int) -> dict[str, np.ndarray]:
        return self._load_arrays("batchnorm", weight_seed, search_seed, "BatchNorm statistics")

    def has_pattern(self, weight_seed: int, search_seed: int) -> bool:
        return self._mask_file("source", weight_seed, search_seed).exists()

    def save_pattern(self, weight_seed: int, search_seed: int, pattern: dict[str, np.ndarray]) -> None:
        """Store one mask's source pattern ``{layer: int8}``: -1 never kept, +1 always kept, 0 free."""
        for name, values in pattern.items():
            if not np.isin(values, (-1, 0, 1)).all():
                raise ValueError(f"source pattern of layer {name!r} holds values other than -1, 0, 1")
        self._save_arrays("source", weight_seed, search_seed, pattern, dtype=np.int8)

    def load_pattern(self, weight_seed: int, search_seed: int) -> dict[str, np.ndarray]:
        return self._load_arrays("source", weight_seed, search_seed, "source pattern")
