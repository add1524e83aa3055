"""MNIST-1D (Greydanus 2020): 10 classes of 40-sample 1-D signals, generated offline.

The signals come from the reference generator, ``mnist1d.data.make_dataset``, called with
the arguments of ``data.mnist1d`` (by default its ``get_dataset_args()``: 5,000 signals,
seed 42, the first 80% of its shuffled order for training). The package's download path is
never used. A generated set is cached under ``<data root>/mnist1d/`` as one ``.npz`` per
set of generator arguments, so later runs read it instead of regenerating.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import io
import json
import random
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from landscape.config import DataConfig, Mnist1dConfig
from landscape.data.dataset import Dataset
from landscape.data.files import data_root
from landscape.data.splits import split_rng, stratified_split
from landscape.errors import DataError

FOLDER = "mnist1d"
N_CLASSES = 10
ARRAYS = ("x", "y", "x_test", "y_test", "t")


def load_mnist1d(cfg: DataConfig) -> Dataset:
    """Load MNIST-1D as ``(N, 1, length)`` signals (one channel).

    The test split is the generator's own (the last 20% of its signals by default: 1,000);
    the validation split is carved from its training signals (``data.val_fraction``,
    stratified, fixed by ``data.split_seed``; default 3,200 / 800). ``data.test_fraction``
    and ``data.augment`` do not apply. The values are the generator's: it centres the whole
    set and scales it to unit std (one mean and one std over all signals and positions), and
    the reference training code uses them as they are, so no further normalisation is done.
    """
    arrays = generated(cfg)
    train, val = stratified_split(arrays["y"], (cfg.val_fraction,), split_rng(cfg.split_seed, "mnist1d"))
    length = arrays["x"].shape[1]
    return Dataset(
        name="mnist1d",
        input_shape=(1, length),
        n_classes=N_CLASSES,
        train=_tensors(arrays["x"][train], arrays["y"][train]),
        val=_tensors(arrays["x"][val], arrays["y"][val]),
        test=_tensors(arrays["x_test"], arrays["y_test"]),
    )


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(x.astype(np.float32)[:, None, :]), torch.from_numpy(y.astype(np.int64))


# the generator --------------------------------------------------------------------------------


def generator_args(g: Mnist1dConfig) -> dict:
    """``data.mnist1d`` as the generator's argument dict (``padding`` as a list)."""
    args = dataclasses.asdict(g)
    args["padding"] = [int(p) for p in g.padding]
    return args


def generate(g: Mnist1dConfig) -> dict[str, np.ndarray]:
    """Run the reference generator: ``{"x", "y", "x_test", "y_test", "t"}`` (float64 / int64).

    The generator seeds Python's and numpy's global random state; both are restored
    afterwards so that generating data never changes another computation's draws.
    """
    try:
        from mnist1d.data import make_dataset
        from mnist1d.utils import ObjectView
    except ImportError as exc:
        raise DataError(
            f"data.name: mnist1d needs the mnist1d package (pip install mnist1d): {exc}"
        ) from None
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(ObjectView(generator_args(g)))
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    out = {
        "x": np.asarray(data["x"], dtype=np.float64),
        "y": np.asarray(data["y"], dtype=np.int64),
        "x_test": np.asarray(data["x_test"], dtype=np.float64),
        "y_test": np.asarray(data["y_test"], dtype=np.int64),
        "t": np.asarray(data["t"], dtype=np.float64),
    }
    if len(out["y"]) == 0 or len(out["y_test"]) == 0:
        raise DataError(
            f"data.mnist1d: num_samples={g.num_samples} with train_split={g.train_split} leaves an "
            "empty train or test split"
        )
    return out


# the cache ------------------------------------------------------------------------------------


def cache_path(cfg: DataConfig) -> Path:
    """``<data root>/mnist1d/mnist1d-<hash of the generator arguments>.npz``."""
    blob = json.dumps(generator_args(cfg.mnist1d), sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(blob.encode()).hexdigest()[:12]
    return data_root(cfg) / FOLDER / f"mnist1d-{key}.npz"


def generated(cfg: DataConfig) -> dict[str, np.ndarray]:
    """The generator's arrays for ``cfg.mnist1d``: from the cache, else generated and cached.

    A cache file that cannot be read, or that holds other arguments or malformed arrays, is
    reported by path (a warning) and regenerated. When the data root is not writable the set
    is generated in memory only (also with a warning).
    """
    path = cache_path(cfg)
    args = generator_args(cfg.mnist1d)
    if path.exists():
        cached = read_cache(path, args)
        if cached is not None:
            return cached
    arrays = generate(cfg.mnist1d)
    try:
        write_cache(path, arrays, args)
    except OSError as exc:
        warnings.warn(
            f"{path}: cannot cache the generated MNIST-1D ({exc}); it is regenerated next time", stacklevel=2
        )
    return arrays


def read_cache(path: Path, args: dict) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None (with a warning naming ``path``) when the file is unusable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in ARRAYS}
            stored = json.loads(str(npz["args"]))
            made_by = str(npz["mnist1d_version"]) if "mnist1d_version" in npz.files else ""
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        return _unusable(path, f"cannot read it ({type(exc).__name__}: {exc})")
    if stored != args:
        return _unusable(path, "it holds data generated with other arguments")
    installed = _installed_version()
    if made_by != installed:  # the generator itself may have changed: regenerate, and say so
        warnings.warn(
            f"{path}: MNIST-1D cached by mnist1d {made_by or '(unknown)'}, this is mnist1d {installed}; "
            "regenerating it (masks searched on the cached signals may not reproduce with this version)",
            stacklevel=2,
        )
        return None
    problem = _check(arrays)
    if problem:
        return _unusable(path, problem)
    return arrays


def _installed_version() -> str:
    try:
        return importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - the arrays came from it
        return ""


def _unusable(path: Path, why: str) -> None:
    warnings.warn(f"{path}: corrupt MNIST-1D cache, {why}; regenerating it", stacklevel=3)
    return None


def _check(arrays: dict[str, np.ndarray]) -> str:
    x, y, xt, yt = (arrays[k] for k in ("x", "y", "x_test", "y_test"))
    if x.ndim != 2 or xt.ndim != 2 or x.shape[1] != xt.shape[1]:
        return f"signals have shapes {x.shape} and {xt.shape}"
    if y.shape != (x.shape[0],) or yt.shape != (xt.shape[0],):
        return f"{y.size} / {yt.size} labels for {x.shape[0]} / {xt.shape[0]} signals"
    if x.dtype != np.float64 or not (np.isfinite(x).all() and np.isfinite(xt).all()):
        return "signals are not finite float64"
    if y.dtype.kind != "i" or min(y.min(), yt.min()) < 0 or max(y.max(), yt.max()) >= N_CLASSES:
        return "labels are not integers in 0..9"
    return ""


def write_cache(path: Path, arrays: dict[str, np.ndarray], args: dict) -> None:
    """Write the arrays and their generator arguments atomically (temp file + rename)."""
    from landscape.store._io import write_atomic

    buf = io.BytesIO()
    np.savez(
        buf,
        **arrays,
        args=np.array(json.dumps(args, sort_keys=True)),
        mnist1d_version=np.array(_installed_version()),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buf.getvalue())
