"""Numba AND-popcount kernel over bit-packed masks (compiled on first use, cached on disk).

Imported only when the numba route runs, so numba never loads with ``landscape.tl``.

The kernel fills the upper triangle of the intersection counts ``I[i, j, l]`` for every
layer ``l`` given by word bounds. The words are swept in chunks small enough for all rows of
a chunk to stay in the last-level cache; within a chunk the parallel tasks are 4x4 tiles of
row pairs (tasks never write the same cells), each a register tile where 8 loads feed 16
AND-popcount-accumulates.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic


@intrinsic
def popcount(typingctx, x):
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@njit(parallel=True, cache=True)
def triangle(w, bounds, tile_i, tile_j, words_per_chunk, out):
    for layer in range(bounds.shape[0] - 1):
        for k0 in range(bounds[layer], bounds[layer + 1], words_per_chunk):
            k1 = min(k0 + words_per_chunk, bounds[layer + 1])
            for p in prange(tile_i.shape[0]):
                i0 = tile_i[p]
                j0 = tile_j[p]
                z = np.uint64(0)
                c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = z
                c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = z
                for k in range(k0, k1):
                    a0, a1, a2, a3 = w[i0, k], w[i0 + 1, k], w[i0 + 2, k], w[i0 + 3, k]
                    b0, b1, b2, b3 = w[j0, k], w[j0 + 1, k], w[j0 + 2, k], w[j0 + 3, k]
                    c00 += popcount(a0 & b0)
                    c01 += popcount(a0 & b1)
                    c02 += popcount(a0 & b2)
                    c03 += popcount(a0 & b3)
                    c10 += popcount(a1 & b0)
                    c11 += popcount(a1 & b1)
                    c12 += popcount(a1 & b2)
                    c13 += popcount(a1 & b3)
                    c20 += popcount(a2 & b0)
                    c21 += popcount(a2 & b1)
                    c22 += popcount(a2 & b2)
                    c23 += popcount(a2 & b3)
                    c30 += popcount(a3 & b0)
                    c31 += popcount(a3 & b1)
                    c32 += popcount(a3 & b2)
                    c33 += popcount(a3 & b3)
                out[i0, j0, layer] += c00
                out[i0, j0 + 1, layer] += c01
                out[i0, j0 + 2, layer] += c02
                out[i0, j0 + 3, layer] += c03
                out[i0 + 1, j0, layer] += c10
                out[i0 + 1, j0 + 1, layer] += c11
                out[i0 + 1, j0 + 2, layer] += c12
                out[i0 + 1, j0 + 3, layer] += c13
                out[i0 + 2, j0, layer] += c20
                out[i0 + 2, j0 + 1, layer] += c21
                out[i0 + 2, j0 + 2, layer] += c22
                out[i0 + 2, j0 + 3, layer] += c23
                out[i0 + 3, j0, layer] += c30
                out[i0 + 3, j0 + 1, layer] += c31
                out[i0 + 3, j0 + 2, layer] += c32
                out[i0 + 3, j0 + 3, layer] += c33


def triangle_numba(words: np.ndarray, bounds: np.ndarray, chunk_bytes: int = 16 << 20) -> np.ndarray:
    """Upper-triangle intersection counts for ``n`` rows, ``n`` a multiple of 4.

    Returns uint64 ``(n, n, L)``; below the diagonal only the diagonal 4x4 tiles are filled.
    ``chunk_bytes`` bounds the packed bytes of all rows swept together (keep it under the
    last-level cache, so each word is fetched from memory once per chunk).
    """
    n = words.shape[0]
    if n % 4:
        raise ValueError(f"the numba kernel needs a multiple of 4 rows, got {n}")
    out = np.zeros((n, n, len(bounds) - 1), dtype=np.uint64)
    if n == 0:
        return out
    tile_i, tile_j = np.triu_indices(n // 4)
    words_per_chunk = max(64, int(chunk_bytes) // (8 * n))
    triangle(
        words,
        np.asarray(bounds, dtype=np.int64),
        (tile_i * 4).astype(np.int64),
        (tile_j * 4).astype(np.int64),
        words_per_chunk,
        out,
    )
    return out
