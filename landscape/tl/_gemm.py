"""Intersection counts as an integer matrix product of unpacked 0/1 chunks (torch).

The packed words are unpacked a chunk of columns at a time (bounded memory), the chunk's
Gram matrix ``X @ X.T`` is taken, and the partial products are summed in int64.

Exactness:
- int8 route: ``torch._int_mm`` multiplies int8 0/1 values and accumulates in int32, exact
  while a chunk has fewer than 2**31 columns (chunks here are far smaller).
- float32 route: 0/1 products are exact and float32 sums of integers are exact up to 2**24,
  so chunks never exceed 2**24 columns. On CUDA this stays exact under TF32 (0 and 1 keep
  their value after rounding the inputs to 10 mantissa bits; accumulation is float32).
``torch._int_mm`` is private API: any failure falls back to the float32 route.
"""

from __future__ import annotations

import numpy as np

FLOAT32_EXACT_COLUMNS = 1 << 24
_SHIFTS = None


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


def _gram(x, route: str):
    torch = _torch()
    if route == "int8":
        try:
            return torch._int_mm(x, x.T).to(torch.int64)
        except (RuntimeError, AttributeError, NotImplementedError):
            pass  # shape or device not supported by the private kernel
    xf = x.to(torch.float32)
    return (xf @ xf.T).round_().to(torch.int64)


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
    torch = _torch()
    dev = torch.device(device or "cpu")
    n = words.shape[0]
    n_layers = len(bounds) - 1
    out = np.zeros((n, n, n_layers), dtype=np.int64)
    if n == 0:
        return out
    # bytes per unpacked column: int8 (+4 for a float32 copy); unpacking on CUDA goes through
    # one int64 per bit
    per_column = n * ((1 if route == "int8" else 5) + (8 if dev.type == "cuda" else 0))
    cols = chunk_columns or max(64, memory_bytes // max(per_column, 1))
    cols = int(min(cols, FLOAT32_EXACT_COLUMNS))
    step = max(1, cols // 64)
    n_pad = _pad_rows(n, dev.type)
    if dev.type == "cuda":
        src = np.zeros((n_pad, words.shape[1]), dtype=np.uint64)
        src[:n] = words
        words_dev = torch.from_numpy(src.view(np.int64)).to(dev)
    for layer in range(n_layers):
        acc = torch.zeros((n_pad, n_pad), dtype=torch.int64, device=dev)
        for lo in range(int(bounds[layer]), int(bounds[layer + 1]), step):
            hi = min(lo + step, int(bounds[layer + 1]))
            x = _unpack_cuda(words_dev, lo, hi) if dev.type == "cuda" else _unpack_cpu(words, lo, hi)
            acc += _gram(x, route)
        out[:, :, layer] = acc[:n, :n].cpu().numpy()
    return out
