import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landscape.errors import AnalysisError
from landscape.store.layout import Layout
from landscape.store.packing import as_words, pack_flat
from landscape.tl import _kernels

CPU_BACKENDS = ("numba", "numpy", "int8", "float32")


def reference(dense: np.ndarray, layout: Layout) -> np.ndarray:
    x = dense.astype(np.int64)
    out, start = [], 0
    for spec in layout:
        block = x[:, start : start + spec.numel]
        out.append(block @ block.T)
        start += spec.numel
    return np.stack(out, axis=2)


@settings(max_examples=25, deadline=None)
@given(
    shapes=st.lists(st.integers(1, 200), min_size=1, max_size=4),
    n=st.integers(1, 11),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_backend_equals_the_dense_reference(shapes, n, density, seed):
    layout = Layout((f"l{i}", (s,)) for i, s in enumerate(shapes))
    dense = np.random.default_rng(seed).random((n, layout.n_weights)) < density
    words = as_words(pack_flat(dense, layout))
    bounds = _kernels.layer_bounds(layout)
    expected = reference(dense, layout)
    for backend in CPU_BACKENDS:
        got = _kernels.intersection_counts(words, bounds, backend=backend)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected, err_msg=backend)
    whole = _kernels.intersection_counts(words, backend="numba")[:, :, 0]
    np.testing.assert_array_equal(whole, expected.sum(axis=2))
    np.testing.assert_array_equal(_kernels.kept_counts(words, bounds), np.diagonal(expected).T)


def test_gemm_chunks_accumulate_exactly():
    from landscape.tl._gemm import intersection_gemm

    rng = np.random.default_rng(0)
    layout = Layout([("a", (5000,))])
    dense = rng.random((6, 5000)) < 0.7
    words = as_words(pack_flat(dense, layout))
    bounds = _kernels.layer_bounds(layout)
    for route in ("int8", "float32"):
        got = intersection_gemm(words, bounds, route=route, chunk_columns=128)
        np.testing.assert_array_equal(got[:, :, 0], reference(dense, layout)[:, :, 0])


def test_an_int8_kernel_failure_falls_back_exactly_and_says_so(monkeypatch):
    """The private int8 kernel may refuse a shape or device: the float32 route gives the same
    counts, a warning names the error once, and routes_run() tells what ran."""
    import warnings

    import torch

    from landscape.tl import _gemm

    rng = np.random.default_rng(2)
    layout = Layout([("a", (3000,))])
    dense = rng.random((5, 3000)) < 0.5
    words, bounds = as_words(pack_flat(dense, layout)), _kernels.layer_bounds(layout)
    _gemm.reset_routes()
    _gemm.intersection_gemm(words, bounds, route="int8", chunk_columns=128)
    assert _gemm.routes_run() == {"int8": 24, "int8_errors": []}  # 3,000 columns in chunks of 128

    def refuse(a, b):
        raise RuntimeError("no int8 kernel for this shape (planted)")

    monkeypatch.setattr(torch, "_int_mm", refuse)
    monkeypatch.setattr(_gemm, "_WARNED", set())
    _gemm.reset_routes()
    with pytest.warns(RuntimeWarning, match=r"float32 route: RuntimeError: no int8 kernel .*\(planted\)"):
        got = _gemm.intersection_gemm(words, bounds, route="int8", chunk_columns=128)
    np.testing.assert_array_equal(got, reference(dense, layout))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same error is not warned about twice
        _gemm.intersection_gemm(words, bounds, route="int8", chunk_columns=128)
    assert _gemm.routes_run() == {
        "float32": 48,
        "int8_errors": ["RuntimeError: no int8 kernel for this shape (planted)"],
    }


@pytest.mark.parametrize("na, nb", [(40, None), (7, 5), (1, 1), (0, 3), (3, 0)])
def test_numba_kernel_on_many_rows_and_chunks(na, nb):
    """Rows that are no multiple of the register tile, layers that end inside a vector, and
    chunks smaller than a layer: the padded buffers must add no bits."""
    from landscape.tl._numba import pair_counts

    rng = np.random.default_rng(1)
    bounds = np.array([0, 1, 100, 103, 300])
    a = rng.integers(0, 2**63, size=(na, 300), dtype=np.uint64)
    b = None if nb is None else rng.integers(0, 2**63, size=(nb, 300), dtype=np.uint64)
    got = pair_counts(a, b, bounds, chunk_bytes=8 * 64 * 8)
    np.testing.assert_array_equal(got, _kernels.cross_numpy(a, a if b is None else b, bounds))


@pytest.mark.parametrize("na, nb", [(23, None), (23, 10), (5, 17), (16, None)])
def test_numba_kernel_by_row_blocks_equals_one_block(na, nb):
    """Products larger than a row block run block pair by block pair (the diagonal blocks
    symmetric, the rest mirrored): the counts must be those of all rows at once."""
    from landscape.tl._numba import pair_counts

    rng = np.random.default_rng(2)
    bounds = np.array([0, 5, 40, 41, 90])
    a = rng.integers(0, 2**63, size=(na, 90), dtype=np.uint64)
    b = None if nb is None else rng.integers(0, 2**63, size=(nb, 90), dtype=np.uint64)
    whole = pair_counts(a, b, bounds, row_block=None)
    np.testing.assert_array_equal(whole, _kernels.cross_numpy(a, a if b is None else b, bounds))
    for rows in (4, 7, 8):
        np.testing.assert_array_equal(
            pair_counts(a, b, bounds, chunk_bytes=8 * 64 * 8, row_block=rows), whole
        )


def test_jaccard_of_empty_masks_is_zero_and_hamming_counts():
    inter = np.array([[0, 0, 0], [0, 3, 2], [0, 2, 4]])
    np.testing.assert_array_equal(_kernels.hamming_counts(inter), [[0, 3, 4], [3, 0, 3], [4, 3, 0]])
    jac = _kernels.jaccard(inter)
    assert jac[0, 0] == 0.0
    assert jac[0, 1] == 1.0
    assert jac[1, 2] == pytest.approx(1 - 2 / 5)
    np.testing.assert_allclose(_kernels.matching(inter, 10) + _kernels.hamming(inter, 10), 1.0)


def test_backend_errors():
    with pytest.raises(AnalysisError, match="backend"):
        _kernels.resolve_backend("bogus")
    with pytest.raises(AnalysisError, match="CPU only"):
        _kernels.resolve_backend("numba", device="cuda")
    assert _kernels.resolve_backend("auto", device="cuda:0") == "int8"
    with pytest.raises(AnalysisError, match="aligned"):
        _kernels.intersection_counts(np.zeros((2, 5), dtype=np.uint8))


@pytest.mark.gpu
def test_cuda_routes_match_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    rng = np.random.default_rng(2)
    layout = Layout([("a", (3, 77)), ("b", (1000,))])
    dense = rng.random((13, layout.n_weights)) < 0.4
    words = as_words(pack_flat(dense, layout))
    bounds = _kernels.layer_bounds(layout)
    for backend in ("int8", "float32"):
        got = _kernels.intersection_counts(words, bounds, backend=backend, device="cuda")
        np.testing.assert_array_equal(got, reference(dense, layout))
