"""Benchmark: AND-popcount kernels on one cache-resident chunk of packed masks.

    python benchmarks/popcount_kernels.py                # 240 rows x 512 words, 1 and 2 threads
    python benchmarks/popcount_kernels.py --words 2048 --repeats 30

What is timed is the inner kernel of ``tl.distances`` on one chunk (all row pairs of
``--rows`` rows over ``--words`` uint64 words, small enough to stay in cache), in word pairs
(one AND + popcount + add of two 64-bit words) per nanosecond:

- ``scalar 4x4``: the previous kernel, a 4x4 register tile of scalar ``popcount`` calls
  (LLVM vectorises it across words, but assembles each vector from four scalar loads and
  spills accumulators);
- ``vector RxC``: the LLVM-IR kernel of :mod:`landscape.tl._numba` (256-bit loads,
  ``ctpop`` on bytes = the nibble lookup with two ``vpshufb``, byte accumulators reduced
  every 31 vectors) for several register-tile shapes; the package uses 3x3;
- ``numpy``: ``np.bitwise_count`` on blocks of rows (the fallback route).

Times are CPU seconds of this process (``time.process_time``), the minimum over
``--repeats``: on a shared machine that counts the cycles the kernel actually got. The
clock is estimated from a dependent multiply-add chain (4 cycles per step on Zen 3).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from landscape.tl import _numba as K


@intrinsic
def popcount_scalar(typingctx, x):
    """LLVM ``ctpop`` on one uint64 (POPCNT): the previous kernel's building block."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@njit(parallel=True)
def scalar_4x4(w, tile_i, tile_j, k0, k1, out):
    for p in prange(tile_i.shape[0]):
        i0 = tile_i[p]
        j0 = tile_j[p]
        z = np.uint64(0)
        c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = z
        c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = z
        for k in range(k0, k1):
            a0, a1, a2, a3 = w[i0, k], w[i0 + 1, k], w[i0 + 2, k], w[i0 + 3, k]
            b0, b1, b2, b3 = w[j0, k], w[j0 + 1, k], w[j0 + 2, k], w[j0 + 3, k]
            c00 += popcount_scalar(a0 & b0)
            c01 += popcount_scalar(a0 & b1)
            c02 += popcount_scalar(a0 & b2)
            c03 += popcount_scalar(a0 & b3)
            c10 += popcount_scalar(a1 & b0)
            c11 += popcount_scalar(a1 & b1)
            c12 += popcount_scalar(a1 & b2)
            c13 += popcount_scalar(a1 & b3)
            c20 += popcount_scalar(a2 & b0)
            c21 += popcount_scalar(a2 & b1)
            c22 += popcount_scalar(a2 & b2)
            c23 += popcount_scalar(a2 & b3)
            c30 += popcount_scalar(a3 & b0)
            c31 += popcount_scalar(a3 & b1)
            c32 += popcount_scalar(a3 & b2)
            c33 += popcount_scalar(a3 & b3)
        out[i0, j0] += c00
        out[i0, j0 + 1] += c01
        out[i0, j0 + 2] += c02
        out[i0, j0 + 3] += c03
        out[i0 + 1, j0] += c10
        out[i0 + 1, j0 + 1] += c11
        out[i0 + 1, j0 + 2] += c12
        out[i0 + 1, j0 + 3] += c13
        out[i0 + 2, j0] += c20
        out[i0 + 2, j0 + 1] += c21
        out[i0 + 2, j0 + 2] += c22
        out[i0 + 2, j0 + 3] += c23
        out[i0 + 3, j0] += c30
        out[i0 + 3, j0 + 1] += c31
        out[i0 + 3, j0 + 2] += c32
        out[i0 + 3, j0 + 3] += c33


def vector_kernel(rows: int, cols: int):
    """A prange driver over ``rows x cols`` register tiles of the package's LLVM-IR kernel."""
    tile = K.tile_intrinsic(rows, cols)
    lines = [
        "def run(w, tile_i, tile_j, n_vectors, out):",
        "    for p in prange(tile_i.shape[0]):",
        "        i0 = tile_i[p]",
        "        j0 = tile_j[p]",
        "        c = tile(w, w, i0, j0, n_vectors)",
    ]
    lines += [
        f"        out[i0 + {r}, j0 + {c}] += c[{r * cols + c}]" for r in range(rows) for c in range(cols)
    ]
    namespace = {"tile": tile, "prange": prange}
    exec("\n".join(lines), namespace)  # one explicit statement per pair: no tuple indexing
    return njit(parallel=True)(namespace["run"])


def numpy_blocks(w, out):
    for i0 in range(0, w.shape[0], 16):
        both = w[i0 : i0 + 16, None, :] & w[None, :, :]
        out[i0 : i0 + 16] = np.bitwise_count(both).sum(axis=-1, dtype=np.uint64)


@njit
def _chain(n, x):
    for _ in range(n):
        x = x * x + np.uint64(1)
    return x


def clock_ghz() -> float:
    _chain(10, np.uint64(3))
    best = min(_timed(lambda: _chain(20_000_000, np.uint64(3))) for _ in range(10))
    return 4 * 20_000_000 / best / 1e9


def _timed(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _timed_both(fn) -> tuple[float, float]:
    """CPU seconds of this process (all threads) and wall seconds of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def tiles(n: int, rows: int, cols: int):
    ti, tj = np.meshgrid(np.arange(0, n - n % rows, rows), np.arange(0, n - n % cols, cols), indexing="ij")
    return ti.ravel().astype(np.int64), tj.ravel().astype(np.int64)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=240, help="a multiple of every tile side")
    parser.add_argument("--words", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    import numba

    n, words = args.rows, args.words
    w = np.random.default_rng(0).integers(0, 2**63, size=(n, words), dtype=np.uint64)
    reference = np.zeros((n, n), dtype=np.uint64)
    numpy_blocks(w, reference)
    ghz = clock_ghz()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; clock estimate {ghz:.2f} GHz")
    print(f"chunk: {n} rows x {words} words ({n * words * 8 / 2**20:.1f} MiB), all {n * n:,} ordered pairs\n")
    routes = [("scalar 4x4", None)] + [(f"vector {r}x{c}", (r, c)) for r, c in
                                       [(1, 4), (2, 2), (2, 3), (2, 4), (3, 3), (3, 4), (4, 4)]]  # fmt: skip
    print(
        "| kernel | threads | word pairs / CPU-ns | word pairs / cycle | vs scalar 4x4 | wall word pairs / ns | counts |"
    )
    print("|---|---|---|---|---|---|---|")
    for threads in args.threads:
        numba.set_num_threads(threads)
        base = None
        for name, shape in [*routes, ("numpy", "numpy")]:
            out = np.zeros((n, n), dtype=np.uint64)
            if shape is None:
                ti, tj = tiles(n, 4, 4)
                run = lambda ti=ti, tj=tj, out=out: scalar_4x4(w, ti, tj, 0, words, out)  # noqa: E731
            elif shape == "numpy":
                run = lambda out=out: numpy_blocks(w, out)  # noqa: E731
            else:
                kernel = vector_kernel(*shape)
                ti, tj = tiles(n, *shape)
                run = lambda k=kernel, ti=ti, tj=tj, out=out: k(w, ti, tj, words // 4, out)  # noqa: E731
            run()  # compile
            cpu = wall = np.inf
            for _ in range(args.repeats if shape != "numpy" else 3):
                out[:] = 0
                c, t = _timed_both(run)
                cpu, wall = min(cpu, c), min(wall, t)
            ok = "identical" if np.array_equal(out, reference) else "MISMATCH"
            work = n * n * words / 1e9
            rate = work / cpu  # per CPU-nanosecond: the threads' CPU time summed
            base = base or rate
            print(
                f"| {name} | {threads} | {rate:.2f} | {rate / ghz:.2f} | {rate / base:.2f}x | {work / wall:.2f} | {ok} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
