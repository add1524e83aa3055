"""Reading foreign files: which files a source names, safe torch and numpy loading, the
state dict inside a checkpoint, and one-line errors that name the file and the key."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landscape.errors import DataError
from landscape.store._io import sha256_file

# wrappers that prefix every key of a state dict (DataParallel / DDP, torch.compile)
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def bad(path: Path | str, key: str | None, message: str) -> DataError:
    """``<file>: key '<key>': <message>`` (or without the key)."""
    where = f"{path}: key {key!r}: " if key is not None else f"{path}: "
    return DataError(where + message)


def expand_sources(sources: Iterable[str | Path], patterns: Sequence[str]) -> list[Path]:
    """The files named by ``sources``: files as given, folders searched recursively for
    ``patterns`` (in sorted order, each file once)."""
    out: list[Path] = []
    for src in sources:
        path = Path(src)
        if not path.exists():
            raise DataError(f"{path}: not found")
        if path.is_dir():
            found = sorted({p for pat in patterns for p in path.glob(pat) if p.is_file()})
            if not found:
                raise DataError(f"{path}: no files matching {', '.join(patterns)} in this folder")
            out.extend(found)
        else:
            out.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in out))
    if not unique:
        raise DataError("no source files given")
    return unique


def file_sha256(path: Path) -> str:
    return sha256_file(path)


def load_torch(path: Path) -> Any:
    """``torch.load`` without executing code from the file (``weights_only``), on the CPU."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not _looks_like_torch(path):
            raise DataError(
                f"{path}: not a readable torch file (neither a zip archive nor a pickle)"
            ) from None
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise DataError(
            f"{path}: holds objects that cannot be loaded without running code from the file{what}; "
            "save the tensors (a state dict) instead"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable torch file ({first[:160]})") from None


def _looks_like_torch(path: Path) -> bool:
    """A zip archive (torch >= 1.6) or a pickle stream (the legacy format)."""
    import zipfile

    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError:
        return False
    return zipfile.is_zipfile(path) or head[:1] == b"\x80"


def describe(obj: Any) -> str:
    """What a loaded object looks like, for 'unsupported layout' messages."""
    if isinstance(obj, Mapping):
        keys = [str(k) for k in list(obj)[:8]]
        more = ", ..." if len(obj) > 8 else ""
        return f"a dict with keys {', '.join(keys)}{more}" if keys else "an empty dict"
    return f"a {type(obj).__name__}"


def is_array(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return True
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(value, torch.Tensor)


def find_state(obj: Any, path: Path, keys: Sequence[str], bare: bool, expected: str) -> dict[str, Any]:
    """The state dict of a checkpoint: ``obj[key]`` for the first of ``keys`` present, or
    ``obj`` itself when ``bare`` and it maps names to tensors."""
    if isinstance(obj, Mapping):
        for key in keys:
            if key in obj and isinstance(obj[key], Mapping):
                return dict(obj[key])
        if bare and obj and all(isinstance(k, str) and is_array(v) for k, v in obj.items()):
            return dict(obj)
    raise DataError(f"{path}: unsupported checkpoint layout ({describe(obj)}; expected {expected})")


def wrapper_prefix(state: Mapping[str, Any]) -> str:
    """The prefix every key carries (``module.`` from DataParallel/DDP, ``_orig_mod.``), or ""."""
    prefix = ""
    keys = [str(k) for k in state]
    for candidate in WRAPPER_PREFIXES:
        if keys and all(k.startswith(prefix + candidate) for k in keys):
            prefix += candidate
    return prefix


def strip_wrappers(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state dict without :func:`wrapper_prefix`."""
    n = len(wrapper_prefix(state))
    return {str(k)[n:]: v for k, v in state.items()}


def to_numpy(value: Any, path: Path, key: str) -> np.ndarray:
    """A tensor or array as numpy (floats as float32, bools as bool)."""
    if not is_array(value):
        raise bad(path, key, f"expected a tensor, found {type(value).__name__}")
    if not isinstance(value, np.ndarray):
        import torch

        value = value.detach().cpu()
        if value.is_floating_point() and value.dtype != torch.float32:
            value = value.float()
        value = value.numpy()
    if np.issubdtype(value.dtype, np.floating) and value.dtype != np.float32:
        value = value.astype(np.float32)
    return value


def number(value: Any) -> float | None:
    """A Python float from a number or one-element tensor (None for anything else)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if is_array(value):
        arr = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)
        if arr.size == 1 and np.issubdtype(arr.dtype, np.number):
            return float(arr.reshape(()))
    return None


def group_modules(state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"convs.0.weight": w, "convs.0.scores": s}`` -> ``{"convs.0": {"weight": w, "scores": s}}``
    in the state dict's order."""
    modules: dict[str, dict[str, Any]] = {}
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        modules.setdefault(module, {})[param] = value
    return modules


def check_binary(values: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Bool masks from bool or 0/1 arrays; anything else is an error naming the key."""
    if values.dtype == bool:
        return values
    if not np.issubdtype(values.dtype, np.number):
        raise bad(path, key, f"a mask must be bool or 0/1 numbers, found dtype {values.dtype}")
    finite = np.isfinite(values) if np.issubdtype(values.dtype, np.floating) else np.ones(values.shape, bool)
    odd = ~finite | ((values != 0) & (values != 1))
    if odd.any():
        example = values[odd].ravel()[0]
        raise bad(
            path, key, f"holds values other than 0 and 1 (e.g. {example!r}); a mask must be bool or 0/1"
        )
    return values.astype(bool)


def check_finite(values: np.ndarray, path: Path, key: str, what: str) -> None:
    if not np.isfinite(values).all():
        raise bad(path, key, f"{what} hold NaN or infinite values")
