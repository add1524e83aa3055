"""Numba AND-popcount kernel over bit-packed masks (compiled on first use, cached on disk).

Imported only when the numba route runs, so numba never loads with ``landscape.tl``.

``pair_counts(a, b, bounds)`` gives ``I[i, j, l] = popcount(a_i & b_j)`` over each layer's
word range. The words are swept in chunks small enough for all rows of a chunk to stay in
the last-level cache; each chunk is copied into zero-padded buffers (rows to a multiple of
the register tile, words to a multiple of the vector width), so the inner loop has no tail.
Products of more than ``ROW_BLOCK`` rows run block pair by block pair, so that a chunk of
fewer rows can be wider (1.3-1.9x faster at 4,096 rows of 174,443 words; BENCHMARKS.md).

The inner loop is written in LLVM IR (:func:`_and_popcount_tile`): a ``T x T`` register tile
of row pairs, 256-bit vectors of 4 words, ``ctpop`` on bytes (on AVX2 LLVM lowers it to the
nibble lookup: two ``vpshufb`` per vector) summed into byte lanes for up to 31 vectors
before one horizontal reduction (``vpsadbw``) per pair. Per word pair that is 2 ALU
operations per vector lane instead of the 3 scalar ones (AND, POPCNT, ADD), and the byte
accumulators keep the reduction off the critical path. It is generic IR: on CPUs with
another vector popcount LLVM lowers ``ctpop`` to that.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

TILE = 3  # rows per side of the register tile (3 x 3 pairs: 9 byte accumulators + 6 loads)
VECTOR_WORDS = 4  # uint64 words per 256-bit vector
BLOCK = 31  # vectors summed in byte lanes before reducing: each adds at most 8, 31 * 8 < 256
CHUNK_BYTES = 16 << 20  # packed bytes of all rows swept together (under the L3 cache)
# Rows per block of a large product. A chunk holds all rows of the product, so its width in
# words shrinks as rows grow (512 words at 4,096 rows) and each register tile's fixed cost
# weighs more; blocks of rows keep the chunks wide (2,048-4,096 words).
ROW_BLOCK = 512

_I8, _I16, _I64 = ir.IntType(8), ir.IntType(16), ir.IntType(64)
_V32I8, _V4I64, _V32I16 = ir.VectorType(_I8, 32), ir.VectorType(_I64, 4), ir.VectorType(_I16, 32)


def _row_pointer(context, builder, array_type, array, row):
    """``i8*`` to the first word of ``array[row]`` (a C-contiguous 2-D uint64 array)."""
    arr = context.make_array(array_type)(context, builder, array)
    stride = cgutils.unpack_tuple(builder, arr.strides, 2)[0]
    base = builder.bitcast(arr.data, _I8.as_pointer())
    return builder.gep(base, [builder.mul(row, stride)])


def _load_vector(builder, row_pointer, word):
    ptr = builder.gep(row_pointer, [builder.mul(word, ir.Constant(_I64, 8))])
    return builder.load(builder.bitcast(ptr, _V4I64.as_pointer()), align=8)


def _const(value):
    return ir.Constant(_I64, value)


def tile_intrinsic(rows: int, cols: int):
    """An intrinsic ``(a, b, i0, j0, n_vectors) -> tuple`` of ``rows * cols`` uint64:
    ``popcount(a[i0 + r] & b[j0 + c])`` over the first ``4 * n_vectors`` words, row-major in
    ``(r, c)``. (Other tile shapes are measured in ``benchmarks/popcount_kernels.py``.)"""
    n_pairs = rows * cols

    @intrinsic
    def and_popcount_tile(typingctx, a, b, i0, j0, n_vectors):
        sig = types.UniTuple(types.uint64, n_pairs)(a, b, i0, j0, n_vectors)

        def codegen(context, builder, signature, args):
            a_arr, b_arr, i0_, j0_, n_vec = args
            module = builder.module
            ctpop = cgutils.get_or_insert_function(
                module, ir.FunctionType(_V32I8, [_V32I8]), "llvm.ctpop.v32i8"
            )
            reduce_add = cgutils.get_or_insert_function(
                module, ir.FunctionType(_I16, [_V32I16]), "llvm.vector.reduce.add.v32i16"
            )
            a_type, b_type = signature.args[0], signature.args[1]
            a_rows = [
                _row_pointer(context, builder, a_type, a_arr, builder.add(i0_, _const(r)))
                for r in range(rows)
            ]
            b_rows = [
                _row_pointer(context, builder, b_type, b_arr, builder.add(j0_, _const(c)))
                for c in range(cols)
            ]
            totals = [cgutils.alloca_once_value(builder, _const(0)) for _ in range(n_pairs)]
            lanes = [cgutils.alloca_once_value(builder, ir.Constant(_V32I8, None)) for _ in range(n_pairs)]
            n_blocks = builder.udiv(builder.add(n_vec, _const(BLOCK - 1)), _const(BLOCK))
            with cgutils.for_range(builder, n_blocks) as block:
                start = builder.mul(block.index, _const(BLOCK))
                stop = builder.add(start, _const(BLOCK))
                stop = builder.select(builder.icmp_signed("<", stop, n_vec), stop, n_vec)
                for acc in lanes:
                    builder.store(ir.Constant(_V32I8, None), acc)
                with cgutils.for_range_slice(builder, start, stop, _const(1)) as (v, _):
                    word = builder.mul(v, _const(VECTOR_WORDS))
                    av = [_load_vector(builder, p, word) for p in a_rows]
                    bv = [_load_vector(builder, p, word) for p in b_rows]
                    for r in range(rows):
                        for c in range(cols):
                            bits = builder.call(ctpop, [builder.bitcast(builder.and_(av[r], bv[c]), _V32I8)])
                            acc = lanes[r * cols + c]
                            builder.store(builder.add(builder.load(acc), bits), acc)
                for acc, total in zip(lanes, totals):
                    block_sum = builder.call(reduce_add, [builder.zext(builder.load(acc), _V32I16)])
                    builder.store(builder.add(builder.load(total), builder.zext(block_sum, _I64)), total)
            values = [builder.load(t) for t in totals]
            return context.make_tuple(builder, signature.return_type, values)

        return sig, codegen

    return and_popcount_tile


_and_popcount_tile = tile_intrinsic(TILE, TILE)


@njit(parallel=True, cache=True)
def _chunk_kernel(a, b, tile_i, tile_j, n_vectors, out, layer):
    """Add the counts of one chunk to ``out[:, :, layer]`` for every task ``(i0, j0)``
    (pairs that fall on padding rows are dropped)."""
    na, nb = out.shape[0], out.shape[1]
    for p in prange(tile_i.shape[0]):
        i0 = tile_i[p]
        j0 = tile_j[p]
        counts = _and_popcount_tile(a, b, i0, j0, n_vectors)
        for r in range(TILE):
            if i0 + r < na:
                for c in range(TILE):
                    if j0 + c < nb:
                        out[i0 + r, j0 + c, layer] += counts[r * TILE + c]


@njit(parallel=True, cache=True)
def _mirror_lower(out):
    """Copy the upper triangle of ``out[:, :, l]`` onto the lower one, in place."""
    n = out.shape[0]
    for i in prange(n):
        for j in range(i):
            for layer in range(out.shape[2]):
                out[i, j, layer] = out[j, i, layer]


def _padded(n: int) -> int:
    return -(-n // TILE) * TILE


def _tasks(na: int, nb: int, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners of the register tiles; for a symmetric product only ``i0 <= j0``."""
    ti, tj = np.arange(0, _padded(na), TILE), np.arange(0, _padded(nb), TILE)
    if symmetric:
        iu, ju = np.triu_indices(len(ti))
        return ti[iu].astype(np.int64), tj[ju].astype(np.int64)
    gi, gj = np.meshgrid(ti, tj, indexing="ij")
    return gi.ravel().astype(np.int64), gj.ravel().astype(np.int64)


def _fill(buffer: np.ndarray, words: np.ndarray, lo: int, hi: int) -> None:
    """``buffer[:n, :hi-lo] = words[:, lo:hi]``, the rest zero (padding adds no bits)."""
    buffer[:] = 0
    buffer[: words.shape[0], : hi - lo] = words[:, lo:hi]


def pair_counts(
    a: np.ndarray,
    b: np.ndarray | None,
    bounds: np.ndarray,
    chunk_bytes: int = CHUNK_BYTES,
    row_block: int | None = ROW_BLOCK,
) -> np.ndarray:
    """Exact ``I[i, j, l] = popcount(a_i & b_j)`` over each layer's word range.

    Parameters
    ----------
    a, b
        Packed rows, uint64 ``(na, n_words)`` and ``(nb, n_words)``; ``b=None`` takes ``a``
        against itself (only the upper triangle is computed, then mirrored). Any array that
        supports slicing works (a memory map is read one chunk of words at a time).
    bounds
        Word offsets ``(L + 1,)`` of the layers.
    chunk_bytes
        Packed bytes of all rows of one chunk (keep it under the last-level cache).
    row_block
        Products with more rows on a side are computed block pair by block pair of this
        many rows (``None``: all rows in every chunk). The counts are the same either way.

    Returns
    -------
    np.ndarray
        int64 ``(na, nb, L)``.
    """
    symmetric = b is None
    na = a.shape[0]
    nb = na if symmetric else b.shape[0]
    if row_block is not None and max(na, nb) > row_block:
        return _by_row_blocks(a, b, bounds, chunk_bytes, int(row_block))
    bounds = np.asarray(bounds, dtype=np.int64)
    n_layers = len(bounds) - 1
    out = np.zeros((na, nb, n_layers), dtype=np.uint64)
    if na == 0 or nb == 0:
        return out.view(np.int64)
    tile_i, tile_j = _tasks(na, nb, symmetric)
    rows = _padded(na) + (0 if symmetric else _padded(nb))
    words_per_chunk = max(64, int(chunk_bytes) // (8 * rows)) // VECTOR_WORDS * VECTOR_WORDS
    widest = int(np.max(np.diff(bounds), initial=0))  # a buffer wider than every layer holds zeros
    words_per_chunk = max(VECTOR_WORDS, min(words_per_chunk, -(-widest // VECTOR_WORDS) * VECTOR_WORDS))
    buf_a = np.zeros((_padded(na), words_per_chunk), dtype=np.uint64)
    buf_b = buf_a if symmetric else np.zeros((_padded(nb), words_per_chunk), dtype=np.uint64)
    for layer in range(n_layers):
        for lo in range(int(bounds[layer]), int(bounds[layer + 1]), words_per_chunk):
            hi = min(lo + words_per_chunk, int(bounds[layer + 1]))
            _fill(buf_a, a, lo, hi)
            if not symmetric:
                _fill(buf_b, b, lo, hi)
            n_vectors = -(-(hi - lo) // VECTOR_WORDS)
            _chunk_kernel(buf_a, buf_b, tile_i, tile_j, n_vectors, out, layer)
    if symmetric:
        _mirror_lower(out)
    return out.view(np.int64)


def _by_row_blocks(a: np.ndarray, b: np.ndarray | None, bounds: np.ndarray, chunk_bytes: int, rows: int):
    """:func:`pair_counts` block pair by block pair of ``rows`` rows (for ``b=None`` only the
    blocks on and above the diagonal, mirrored)."""
    symmetric = b is None
    other = a if symmetric else b
    na, nb = a.shape[0], other.shape[0]
    out = np.zeros((na, nb, len(bounds) - 1), dtype=np.int64)
    for i0 in range(0, na, rows):
        i1 = min(i0 + rows, na)
        for j0 in range(i0 if symmetric else 0, nb, rows):
            j1 = min(j0 + rows, nb)
            same = symmetric and i0 == j0
            block = pair_counts(a[i0:i1], None if same else other[j0:j1], bounds, chunk_bytes, None)
            out[i0:i1, j0:j1] = block
            if symmetric and not same:
                out[j0:j1, i0:i1] = block.transpose(1, 0, 2)
    return out
