"""Exact pairwise counts on bit-packed masks, and the metrics derived from them.

Everything starts from the intersection counts ``I[i, j] = |A_i & A_j|`` (the Gram matrix
of the 0/1 masks) and the kept counts ``n_i = I[i, i]``:

- Hamming (differing bits) ``H = n_i + n_j - 2 I``; normalised Hamming ``H / n_weights``
  (scipy's ``pdist(..., "hamming")`` convention);
- matching (fraction of agreeing positions) ``1 - H / n_weights``;
- Jaccard distance ``1 - I / (n_i + n_j - I)``. Two empty masks (``0 / 0``) are defined to be
  at distance 0: they are identical, and that is what scipy returns too.

Per-layer counts come from the same routine run on each layer's word range; the
whole-network counts are the exact integer sum over layers (padding bits are zero).

Routes (``backend=``): ``"numba"`` (cache-blocked, register-tiled AND-popcount on 256-bit
vectors, parallel; see :mod:`landscape.tl._numba`), ``"numpy"`` (blocked
``np.bitwise_count``), ``"int8"`` (torch int8 GEMM on unpacked column chunks) and
``"float32"`` (torch float32 GEMM on chunks of at most 2**24 columns, exact). ``device="cuda"`` runs the GEMM routes on the GPU. ``"auto"`` takes
int8 GEMM on CUDA and numba on the CPU (with numpy as the fallback when numba is missing).
"""

from __future__ import annotations

import importlib.util

import numpy as np

from landscape.errors import AnalysisError

BACKENDS = ("auto", "numba", "numpy", "int8", "float32")


def layer_bounds(layout) -> np.ndarray:
    """Word offsets ``(L + 1,)`` of the layers of ``layout`` in a packed row."""
    starts = [spec.word_slice.start for spec in layout]
    return np.asarray([*starts, layout[len(layout) - 1].word_slice.stop], dtype=np.int64)


def _as_words(words: np.ndarray) -> np.ndarray:
    words = np.asarray(words)
    if words.dtype == np.uint8:
        if words.shape[-1] % 8:
            raise AnalysisError(f"packed rows of {words.shape[-1]} bytes are not 64-bit aligned")
        words = np.ascontiguousarray(words).view(np.uint64)
    if words.dtype != np.uint64 or words.ndim != 2:
        raise AnalysisError(f"expected packed uint64 words (n, n_words), got {words.dtype} {words.shape}")
    return np.ascontiguousarray(words)


def resolve_backend(backend: str = "auto", device: str | None = None) -> str:
    """The route ``"auto"`` stands for, given the device."""
    if backend not in BACKENDS:
        raise AnalysisError(f"backend={backend!r} is unknown; choose one of {BACKENDS}")
    is_cuda = device is not None and str(device).startswith("cuda")
    if is_cuda and backend in ("numba", "numpy"):
        raise AnalysisError(f"backend={backend!r} runs on the CPU only; use 'int8' or 'float32' on {device}")
    if backend != "auto":
        return backend
    if is_cuda:
        return "int8"
    return "numba" if importlib.util.find_spec("numba") is not None else "numpy"


def cross_numpy(a: np.ndarray, b: np.ndarray, bounds: np.ndarray, rows: int = 16, words: int = 4096):
    """``I[i, j, l]`` between rows of ``a`` and rows of ``b`` with blocked numpy popcounts."""
    out = np.zeros((a.shape[0], b.shape[0], len(bounds) - 1), dtype=np.int64)
    for layer in range(len(bounds) - 1):
        for k0 in range(int(bounds[layer]), int(bounds[layer + 1]), words):
            k1 = min(k0 + words, int(bounds[layer + 1]))
            for i0 in range(0, a.shape[0], rows):
                ai = a[i0 : i0 + rows, None, k0:k1]
                for j0 in range(0, b.shape[0], rows):
                    both = ai & b[None, j0 : j0 + rows, k0:k1]
                    out[i0 : i0 + rows, j0 : j0 + rows, layer] += np.bitwise_count(both).sum(
                        axis=-1, dtype=np.int64
                    )
    return out


def _symmetric_numpy(words: np.ndarray, bounds: np.ndarray, rows: int = 16) -> np.ndarray:
    n = words.shape[0]
    out = np.zeros((n, n, len(bounds) - 1), dtype=np.int64)
    for i0 in range(0, n, rows):
        block = cross_numpy(words[i0 : i0 + rows], words[i0:], bounds, rows=rows)
        out[i0 : i0 + rows, i0:] = block
        out[i0:, i0 : i0 + rows] = block.transpose(1, 0, 2)
    return out


def _symmetric_numba(words: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    from landscape.tl._numba import pair_counts

    return pair_counts(words, None, bounds)


def intersection_counts(
    words: np.ndarray,
    bounds: np.ndarray | None = None,
    *,
    backend: str = "auto",
    device: str | None = None,
) -> np.ndarray:
    """Exact pairwise intersection counts per word range (layer).

    Parameters
    ----------
    words
        Packed masks, uint64 ``(n, n_words)`` (or uint8 rows of a multiple of 8 bytes).
        Bits beyond the real weights must be zero.
    bounds
        Word offsets ``(L + 1,)`` of the layers (see :func:`layer_bounds`); default: one range
        covering the whole row.
    backend, device
        Route and device, see the module docstring.

    Returns
    -------
    np.ndarray
        int64 ``(n, n, L)``, symmetric in the first two axes; ``I[i, i, l]`` is the kept count.
    """
    words = _as_words(words)
    if bounds is None:
        bounds = np.asarray([0, words.shape[1]], dtype=np.int64)
    bounds = np.asarray(bounds, dtype=np.int64)
    if bounds[0] < 0 or bounds[-1] > words.shape[1] or np.any(np.diff(bounds) < 0):
        raise AnalysisError(f"layer bounds {bounds.tolist()} do not fit rows of {words.shape[1]} words")
    route = resolve_backend(backend, device)
    if route == "numba":
        return _symmetric_numba(words, bounds)
    if route == "numpy":
        return _symmetric_numpy(words, bounds)
    from landscape.tl._gemm import intersection_gemm

    return intersection_gemm(words, bounds, route=route, device=device)


def kept_counts(words: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
    """Number of ones per mask and word range: int64 ``(n, L)``."""
    words = _as_words(words)
    if bounds is None:
        bounds = np.asarray([0, words.shape[1]], dtype=np.int64)
    return np.stack(
        [
            np.bitwise_count(words[:, lo:hi]).sum(axis=1, dtype=np.int64)
            for lo, hi in zip(bounds[:-1], bounds[1:])
        ],
        axis=1,
    )


# derived metrics -----------------------------------------------------------------------------
def _counts_pair(inter: np.ndarray):
    """Kept counts broadcast along rows and columns, from the diagonal of ``inter``."""
    diag = np.diagonal(inter, axis1=0, axis2=1)  # (..., n) with layers first when 3-D
    if inter.ndim == 3:
        diag = diag.T  # (n, L)
        return diag[:, None, :], diag[None, :, :]
    return diag[:, None], diag[None, :]


def hamming_counts(inter: np.ndarray) -> np.ndarray:
    """Number of differing bits ``n_i + n_j - 2 I`` (int64)."""
    ni, nj = _counts_pair(inter)
    return ni + nj - 2 * inter


def hamming(inter: np.ndarray, n_weights) -> np.ndarray:
    """Normalised Hamming distance: differing bits / ``n_weights`` (per layer when 3-D)."""
    return metric_from_counts(inter, *_counts_pair(inter), "hamming", n_weights)


def matching(inter: np.ndarray, n_weights) -> np.ndarray:
    """Fraction of agreeing positions: ``1 - hamming`` up to float rounding (computed from the
    agreeing count, so it is exact for that fraction)."""
    return metric_from_counts(inter, *_counts_pair(inter), "matching", n_weights)


def jaccard(inter: np.ndarray) -> np.ndarray:
    """Jaccard distance ``|A ^ B| / |A | B|``; two empty masks are at distance 0."""
    return metric_from_counts(inter, *_counts_pair(inter), "jaccard")


def metric_from_counts(inter: np.ndarray, ni: np.ndarray, nj: np.ndarray, metric: str, n_weights=None):
    """``metric`` from intersection counts and the kept counts of rows (``ni``) and columns
    (``nj``), broadcast against ``inter``: the same arithmetic whether ``inter`` is the whole
    matrix or a block of its rows, so blockwise results equal whole-matrix ones bit for bit."""
    if metric == "jaccard":
        union = ni + nj - inter
        diff = union - inter
        # scipy computes the same ratio of integers; 0/0 (two empty masks) is 0 there as well
        return np.divide(diff, union, out=np.zeros(inter.shape, dtype=np.float64), where=union > 0)
    differing = ni + nj - 2 * inter
    if metric == "hamming":
        return differing / np.asarray(n_weights, dtype=np.float64)
    n_weights = np.asarray(n_weights, dtype=np.int64)
    return (n_weights - differing) / n_weights.astype(np.float64)
