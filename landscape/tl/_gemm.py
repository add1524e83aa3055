"""Intersection counts as an integer matrix product of unpacked 0/1 chunks (torch).

The packed words are unpacked a chunk of columns at a time (bounded memory), the chunk's
Gram matrix ``X @ X.T`` is taken, and the partial products are summed in int64.

Exactness:
- int8 route: ``torch._int_mm`` multiplies int8 0/1 values and accumulates in int32, exact
  while a chunk has fewer than 2**31 columns (chunks here are far smaller).
- float32 route: 0/1 products are exact and float32 sums of integers are exact up to 2**24,
  so chunks never exceed 2**24 columns. On CUDA this stays exact under TF32 (0 and 1 keep
  their value after rounding the inputs to 10 mantissa bits; accumulation is float32).
``torch._int_mm`` is private API: any failure falls back to the float32 route, with a warning
naming the error (once per error) and a count in :func:`routes_run`, so a report of "int8"
can say which route really ran.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np

FLOAT32_EXACT_COLUMNS = 1 << 24
_SHIFTS = None
_RUN: Counter = Counter()  # chunk products per route actually taken, since reset_routes()
_FALLBACKS: dict[str, int] = {}  # int8 errors (first line) -> chunk products that fell back
_WARNED: set[str] = set()  # errors already warned about (once per process)


def routes_run() -> dict:
    """``{"int8": n, "float32": n, "int8_errors": [...]}``: what ran since :func:`reset_routes`."""
    return {**_RUN, "int8_errors": list(_FALLBACKS)}


def reset_routes() -> None:
    _RUN.clear()
    _FALLBACKS.clear()


def _torch():
    import torch

    return torch


def _unpack_cpu(words: np.ndarray, lo: int, hi: int):
    """Columns ``[64*lo, 64*hi)`` as an int8 0/1 CPU tensor ``(n, 64*(hi-lo))``."""
    torch = _torch()
    chunk = np.ascontiguousarray(words[:, lo:hi]).view(np.uint8)
    bits = np.unpackbits(chunk, axis=1, bitorder="little")
    return torch.from_numpy(bits.view(np.int8))


def _unpack_cuda(words_dev, lo: int, hi: int):
    """Unpack on the device: ships packed words (8x less traffic than int8 columns)."""
    torch = _torch()
    shifts = torch.arange(64, device=words_dev.device, dtype=torch.int64)
    chunk = words_dev[:, lo:hi]
    # int64 shifts are arithmetic, the trailing "& 1" drops the sign extension
    bits = (chunk.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(chunk.shape[0], -1).to(torch.int8)


def _gram(xa, xb, route: str):
    """``xa @ xb.T`` of 0/1 chunks, exact, as int64."""
    torch = _torch()
    if route == "int8":
        try:
            out = torch._int_mm(xa, xb.T).to(torch.int64)
        except (RuntimeError, AttributeError, NotImplementedError) as exc:
            _fell_back(exc)  # shape or device not supported by the private kernel
        else:
            _RUN["int8"] += 1
            return out
    _RUN["float32"] += 1
    fa = xa.to(torch.float32)
    fb = fa if xb is xa else xb.to(torch.float32)
    return (fa @ fb.T).round_().to(torch.int64)


def _fell_back(exc: BaseException) -> None:
    text = str(exc).strip()
    message = f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
    _FALLBACKS[message] = _FALLBACKS.get(message, 0) + 1
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(f"int8 GEMM (torch._int_mm) failed, using the exact float32 route: {message}",
                      RuntimeWarning, stacklevel=3)  # fmt: skip


def _pad_rows(n: int, device_type: str) -> int:
    # CUDA int8 matmul wants more than 16 rows and a multiple of 8
    if device_type != "cuda":
        return n
    return max(24, -(-n // 8) * 8)


def intersection_gemm(
    words: np.ndarray,
    bounds: np.ndarray,
    route: str = "int8",
    device: str | None = None,
    chunk_columns: int | None = None,
    memory_bytes: int = 512 << 20,
) -> np.ndarray:
    """Exact ``I[i, j, l]`` (int64 ``(n, n, L)``) by chunked GEMM on ``device`` (default CPU).

    ``chunk_columns`` defaults to what fits ``memory_bytes`` of unpacked int8 (float32 needs
    4x that) and never exceeds 2**24.
    """
    return cross_gemm(words, None, bounds, route, device, chunk_columns, memory_bytes)


def cross_gemm(
    a: np.ndarray,
    b: np.ndarray | None,
    bounds: np.ndarray,
    route: str = "int8",
    device: str | None = None,
    chunk_columns: int | None = None,
    memory_bytes: int = 512 << 20,
) -> np.ndarray:
    """Exact ``I[i, j, l] = |a_i & b_j|`` over each layer (int64 ``(na, nb, L)``) by chunked
    GEMM; ``b=None`` multiplies ``a`` with itself (one unpacked operand instead of two).

    On CUDA the packed words are shipped once (8x less traffic than unpacked columns) and
    unpacked on the device chunk by chunk, so a tile streams from host memory at the cost
    of its packed bytes.
    """
    torch = _torch()
    dev = torch.device(device or "cpu")
    symmetric = b is None
    na = a.shape[0]
    nb = na if symmetric else b.shape[0]
    n_layers = len(bounds) - 1
    out = np.zeros((na, nb, n_layers), dtype=np.int64)
    if na == 0 or nb == 0:
        return out
    # bytes per unpacked column: int8 (+4 for a float32 copy); unpacking on CUDA goes through
    # one int64 per bit
    rows = na + (0 if symmetric else nb)
    per_column = rows * ((1 if route == "int8" else 5) + (8 if dev.type == "cuda" else 0))
    cols = chunk_columns or max(64, memory_bytes // max(per_column, 1))
    cols = int(min(cols, FLOAT32_EXACT_COLUMNS))
    step = max(1, cols // 64)
    pad_a, pad_b = _pad_rows(na, dev.type), _pad_rows(nb, dev.type)
    if dev.type == "cuda":
        src_a = _to_device(a, pad_a, dev)
        src_b = src_a if symmetric else _to_device(b, pad_b, dev)
    for layer in range(n_layers):
        acc = torch.zeros((pad_a, pad_b), dtype=torch.int64, device=dev)
        for lo in range(int(bounds[layer]), int(bounds[layer + 1]), step):
            hi = min(lo + step, int(bounds[layer + 1]))
            if dev.type == "cuda":
                xa = _unpack_cuda(src_a, lo, hi)
                xb = xa if symmetric else _unpack_cuda(src_b, lo, hi)
            else:
                xa = _unpack_cpu(a, lo, hi)
                xb = xa if symmetric else _unpack_cpu(b, lo, hi)
            acc += _gram(xa, xb, route)
        out[:, :, layer] = acc[:na, :nb].cpu().numpy()
    return out


def _to_device(words: np.ndarray, n_pad: int, dev):
    """Packed words on ``dev`` with zero rows up to ``n_pad`` (zero rows add nothing)."""
    torch = _torch()
    src = np.zeros((n_pad, words.shape[1]), dtype=np.uint64)
    src[: words.shape[0]] = words
    return torch.from_numpy(src.view(np.int64)).to(dev)
