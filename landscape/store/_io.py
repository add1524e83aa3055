"""Small file primitives of the store: atomic writes, capped JSON reads, checksums."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from landscape.errors import StoreError

MAX_JSON_BYTES = 64 * 2**20  # refuse to parse anything larger: no store file is near this
_CHUNK = 2**20


def temp_name(path: Path) -> Path:
    """A unique hidden sibling of ``path`` (same folder, so ``os.replace`` stays atomic)."""
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")


def fsync_dir(folder: Path) -> None:
    """Persist a rename in ``folder`` (best effort: some filesystems refuse directory fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_durably(tmp: Path, data: bytes | memoryview) -> None:
    """``data`` in the file ``tmp``, flushed to disk."""
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_atomic(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to a temp file, fsync it, then ``os.replace`` it onto ``path``."""
    tmp = temp_name(path)
    try:
        _write_durably(tmp, data)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)


def write_new(path: Path, data: bytes) -> bool:
    """Write ``path`` only if it does not exist (temp + ``link``); False when it already did."""
    tmp = temp_name(path)
    try:
        _write_durably(tmp, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"cannot store a {type(obj).__name__} in JSON")


def dumps(obj: Any, indent: int | None = 1) -> bytes:
    """JSON bytes; numpy scalars and arrays become plain numbers and lists, NaN stays NaN."""
    return json.dumps(obj, indent=indent, default=_default).encode("utf-8")


def write_json(path: Path, obj: Any, indent: int | None = 1) -> None:
    write_atomic(path, dumps(obj, indent))


def read_json(path: Path) -> Any:
    """Parse a store JSON file, with a one-line :class:`StoreError` naming it on any failure."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise StoreError(f"{path}: missing") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror})") from None
    if not path.is_file():
        raise StoreError(f"{path}: not a file")
    if size > MAX_JSON_BYTES:
        raise StoreError(f"{path}: {size:,} bytes, over the {MAX_JSON_BYTES // 2**20} MiB limit for JSON")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StoreError(f"{path}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()
