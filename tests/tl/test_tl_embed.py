import numpy as np
import pandas as pd
import pytest

from landscape import tl
from landscape.errors import AnalysisError
from landscape.store.layout import Layout
from tests.tl.conftest import make_maskset

LAYOUT = Layout([("a", (50,)), ("b", (70,))])


def masks(n, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.random((2, LAYOUT.n_weights)) < 0.5
    dense = centres[np.arange(n) % 2] ^ (rng.random((n, LAYOUT.n_weights)) < 0.1)
    ms = make_maskset(dense, LAYOUT, pd.DataFrame({"method": ["m"] * n}))
    tl.distances(ms, metric=("jaccard", "hamming"))
    return ms, dense


def test_pca_equals_dense_pca():
    ms, dense = masks(12)
    tl.pca(ms, n_components=3)
    x = dense.astype(float)
    x -= x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    expected = u[:, :3] * s[:3]
    got = ms.obsm["X_pca"]
    for k in range(3):  # components agree up to sign
        sign = np.sign(got[:, k] @ expected[:, k])
        np.testing.assert_allclose(got[:, k], sign * expected[:, k], atol=1e-8)
    np.testing.assert_allclose(ms.uns["pca"]["explained_variance_ratio"], s[:3] ** 2 / np.sum(s**2))


def test_mds_of_sqrt_hamming_equals_pca():
    ms, _ = masks(10)
    tl.pca(ms)
    # classical MDS on sqrt(differing bits) is PCA of the 0/1 masks
    ms.obsp["dist_hamming"] = np.sqrt(ms.obsp["dist_hamming"] * LAYOUT.n_weights)
    tl.mds(ms, metric="hamming")
    np.testing.assert_allclose(ms.obsm["X_mds"], ms.obsm["X_pca"], rtol=1e-6, atol=1e-8)


def test_missing_prerequisite_and_rng():
    ms = make_maskset(np.zeros((4, LAYOUT.n_weights), bool), LAYOUT)
    with pytest.raises(AnalysisError, match="tl.distances"):
        tl.pca(ms)
    ms, _ = masks(5)
    with pytest.raises(AnalysisError, match="rng"):
        tl.embed(ms, method="tsne")
    with pytest.raises(AnalysisError, match="at least 3"):
        tl.tsne(ms[:2], rng=0)


@pytest.mark.parametrize("n", [3, 5])
def test_small_sets_tsne_mds_pca(n):
    ms, _ = masks(n)
    tl.pca(ms)
    tl.mds(ms)
    tl.tsne(ms, rng=1)
    again = tl.tsne(ms, rng=1, copy=True)
    for key in ("X_pca", "X_mds", "X_tsne"):
        assert ms.obsm[key].shape == (n, 2) and np.isfinite(ms.obsm[key]).all()
    np.testing.assert_array_equal(again.obsm["X_tsne"], ms.obsm["X_tsne"])
    # the options it ran with are recorded, the defaults the call did not give included
    assert ms.uns["tsne"]["params"]["perplexity"] == min(30.0, (n - 1) / 3)
    assert ms.uns["tsne"]["params"]["init"] == "random"
    two, _ = masks(2)
    tl.mds(two)
    assert two.obsm["X_mds"].shape == (2, 2)


def test_umap_small_sets():
    # UMAP's first fit in a process pays a numba JIT of several seconds: two fits in total
    for n in (3, 5):
        ms, _ = masks(n, seed=n)
        tl.umap(ms, rng=np.random.default_rng(7))
        assert ms.obsm["X_umap"].shape == (n, 2) and np.isfinite(ms.obsm["X_umap"]).all()
        assert ms.uns["umap"]["params"]["random_state"] is not None
        assert ms.uns["umap"]["params"]["n_neighbors"] == min(15, n - 1)


@pytest.mark.slow
def test_umap_same_rng_same_embedding():
    ms, _ = masks(5)
    first = tl.umap(ms, rng=3, copy=True).obsm["X_umap"]
    np.testing.assert_array_equal(tl.umap(ms, rng=3, copy=True).obsm["X_umap"], first)


def test_top_eigenpairs_route_for_many_masks_equals_the_full_decomposition(monkeypatch):
    """Above DENSE_EIGEN_MAX masks PCA and MDS take the top eigenpairs only (Lanczos); with
    the threshold lowered, both routes give the same coordinates and PCA the same ratios."""
    import importlib

    embed_module = importlib.import_module("landscape.tl.embed")  # tl.embed is the function

    rng = np.random.default_rng(4)
    centres = rng.random((3, LAYOUT.n_weights)) < 0.5
    n = 45
    dense = centres[np.arange(n) % 3] ^ (rng.random((n, LAYOUT.n_weights)) < 0.05)
    full = make_maskset(dense, LAYOUT, pd.DataFrame({"method": ["m"] * n}))
    tl.distances(full)
    top = full.copy()
    tl.pca(full)
    tl.mds(full)
    monkeypatch.setattr(embed_module, "DENSE_EIGEN_MAX", 10)
    tl.pca(top)
    tl.mds(top)
    for key in ("X_pca", "X_mds"):
        np.testing.assert_allclose(top.obsm[key], full.obsm[key], atol=1e-8)
    np.testing.assert_allclose(
        top.uns["pca"]["explained_variance_ratio"], full.uns["pca"]["explained_variance_ratio"]
    )
    np.testing.assert_allclose(top.uns["mds"]["eigenvalues"], full.uns["mds"]["eigenvalues"])
    assert "eigenvalue_ratio" in full.uns["mds"] and "eigenvalue_ratio" not in top.uns["mds"]
