"""Per-mask array files of a run: final weights, BatchNorm statistics and source patterns,
one npz per mask.

``<run>/<kind>/w<weight_seed>-s<search_seed>.npz`` (compressed float32; int8 for patterns),
written atomically. Methods that change weights (IWR, IteRand, weight training) store each
mask's final weights, so a rebuilt network is the searched one; models with BatchNorm store
each mask's running statistics, so a rebuilt network reproduces its recorded accuracy.
Imported masks keep the weights and the source pattern (ER or partially frozen) their
checkpoint carried, since neither can be regenerated from a seed.

Each save returns the :func:`arrays_digest` of what it wrote; the search keeps it in the
mask's record (``record["files"][kind]``, itself checksummed by the manifest), so
``verify`` can tell a damaged file from a good one. Files of older runs, stored without a
digest, are checked by reading them in full (the zip format's CRC-32 of every array).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from landscape.errors import StoreError
from landscape.store import _io

MASK_FILE_KINDS = ("weights", "batchnorm", "source", "snapshots")  # snapshots: store.snapshots


def arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over names, dtypes, shapes and little-endian contents, in name order.

    Depends on the numbers only, not on how the npz file was written (zip timestamps).
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        h.update(f"{name}:{a.dtype.str}:{a.shape}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class PerMaskFiles:
    """Mixed into :class:`~landscape.store.run_store.RunStore` (needs ``path``, ``run_id``, ``layout``)."""

    path: Path
    run_id: str

    def _mask_file(self, kind: str, weight_seed: int, search_seed: int) -> Path:
        return self.path / kind / f"w{int(weight_seed)}-s{int(search_seed)}.npz"

    def _save_arrays(
        self, kind: str, weight_seed: int, search_seed: int, arrays: dict, dtype=np.float32
    ) -> str:
        plain = {k: np.asarray(v, dtype=dtype) for k, v in arrays.items()}
        buf = io.BytesIO()
        np.savez_compressed(buf, **plain)
        path = self._mask_file(kind, weight_seed, search_seed)
        path.parent.mkdir(exist_ok=True)
        _io.write_atomic(path, buf.getvalue())
        return arrays_digest(plain)

    def _load_arrays(self, kind: str, weight_seed: int, search_seed: int, what: str) -> dict[str, np.ndarray]:
        path = self._mask_file(kind, weight_seed, search_seed)
        if not path.exists():
            raise StoreError(f"{path}: missing (run {self.run_id} stored no {what} for this mask)")
        return read_npz(path, what)

    def require_mask_file(self, kind: str, weight_seed: int, search_seed: int) -> Path:
        """The path of a per-mask file its record lists; :class:`StoreError` when it is gone."""
        path = self._mask_file(kind, weight_seed, search_seed)
        if not path.exists():
            raise StoreError(f"{path}: missing (recorded for mask w{weight_seed}/s{search_seed})")
        return path

    def check_mask_file(self, kind: str, weight_seed: int, search_seed: int, digest: str | None) -> None:
        """Read one per-mask file in full; :class:`StoreError` naming it when it is missing,
        unreadable or (given its recorded ``digest``) differs from what the search stored."""
        path = self.require_mask_file(kind, weight_seed, search_seed)
        arrays = read_npz(path, kind)
        if digest is not None and arrays_digest(arrays) != digest:
            raise StoreError(f"{path}: corrupt (contents differ from the digest in the mask's record)")

    def has_weights(self, weight_seed: int, search_seed: int) -> bool:
        return self._mask_file("weights", weight_seed, search_seed).exists()

    def save_weights(self, weight_seed: int, search_seed: int, tensors: dict[str, np.ndarray]) -> str:
        """Store one mask's final weights (a method changed them) as compressed float32 npz;
        returns their :func:`arrays_digest`."""
        missing = [s.name for s in self.layout if s.name not in tensors]
        if missing:
            raise ValueError(f"weights for layers {missing} are missing")
        return self._save_arrays("weights", weight_seed, search_seed, tensors)

    def load_weights(self, weight_seed: int, search_seed: int) -> dict[str, np.ndarray]:
        out = self._load_arrays("weights", weight_seed, search_seed, "weights")
        path = self._mask_file("weights", weight_seed, search_seed)
        for spec in self.layout:
            if spec.name not in out or out[spec.name].shape != spec.shape:
                raise StoreError(f"{path}: weights for layer {spec.name!r} missing or of the wrong shape")
        return out

    def has_batchnorm(self, weight_seed: int, search_seed: int) -> bool:
        return self._mask_file("batchnorm", weight_seed, search_seed).exists()

    def save_batchnorm(self, weight_seed: int, search_seed: int, stats: dict[str, np.ndarray]) -> str:
        """Store one mask's BatchNorm running statistics (``{"<module>.running_mean": ...}``);
        returns their :func:`arrays_digest`."""
        return self._save_arrays("batchnorm", weight_seed, search_seed, stats)

    def load_batchnorm(self, weight_seed: int, search_seed: int) -> dict[str, np.ndarray]:
        return self._load_arrays("batchnorm", weight_seed, search_seed, "BatchNorm statistics")

    def has_pattern(self, weight_seed: int, search_seed: int) -> bool:
        return self._mask_file("source", weight_seed, search_seed).exists()

    def save_pattern(self, weight_seed: int, search_seed: int, pattern: dict[str, np.ndarray]) -> str:
        """Store one mask's source pattern ``{layer: int8}``: -1 never kept, +1 always kept, 0 free;
        returns its :func:`arrays_digest`."""
        for name, values in pattern.items():
            if not np.isin(values, (-1, 0, 1)).all():
                raise ValueError(f"source pattern of layer {name!r} holds values other than -1, 0, 1")
        return self._save_arrays("source", weight_seed, search_seed, pattern, dtype=np.int8)

    def load_pattern(self, weight_seed: int, search_seed: int) -> dict[str, np.ndarray]:
        return self._load_arrays("source", weight_seed, search_seed, "source pattern")


def read_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of an npz file, read in full (so zip CRC-32 checks run); one-line errors."""
    try:
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as exc:  # noqa: BLE001 - a damaged zip raises a dozen kinds of error
        raise StoreError(f"{path}: unreadable {what} ({type(exc).__name__})") from None
