import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from landscape import tl
from landscape.errors import AnalysisError
from tests.tl.conftest import ODD_LAYOUT, make_maskset


@pytest.mark.parametrize("backend", ["auto", "numpy", "int8"])
def test_distances_equal_scipy_bit_for_bit(odd_masks, backend):
    ms = make_maskset(odd_masks)
    tl.distances(ms, metric=("jaccard", "hamming", "matching"), per_layer=True, backend=backend)
    np.testing.assert_array_equal(ms.obsp["dist_jaccard"], squareform(pdist(odd_masks, "jaccard")))
    np.testing.assert_array_equal(ms.obsp["dist_hamming"], squareform(pdist(odd_masks, "hamming")))
    np.testing.assert_allclose(ms.obsp["sim_matching"], 1 - ms.obsp["dist_hamming"], atol=1e-15)
    start = 0
    for k, spec in enumerate(ODD_LAYOUT):
        block = odd_masks[:, start : start + spec.numel]
        start += spec.numel
        np.testing.assert_array_equal(
            ms.obsp["dist_jaccard_layers"][:, :, k], squareform(pdist(block, "jaccard"))
        )
        np.testing.assert_array_equal(
            ms.obsp["dist_hamming_layers"][:, :, k], squareform(pdist(block, "hamming"))
        )
    np.testing.assert_array_equal(ms.obsp["intersection_layers"].sum(axis=2), ms.obsp["intersection"])
    np.testing.assert_array_equal(np.diag(ms.obsp["intersection"]), odd_masks.sum(axis=1))
    assert ms.uns["distances"]["params"]["per_layer"] is True


def test_special_masks():
    n = ODD_LAYOUT.n_weights
    dense = np.zeros((4, n), dtype=bool)
    dense[2:] = True
    ms = make_maskset(dense)
    tl.distances(ms)
    jac = ms.obsp["dist_jaccard"]
    assert jac[0, 1] == 0.0  # two empty masks are identical
    assert jac[0, 2] == 1.0
    assert jac[2, 3] == 0.0
    np.testing.assert_array_equal(ms.obsp["dist_hamming"], squareform(pdist(dense, "hamming")))
    np.testing.assert_array_equal(jac, squareform(pdist(dense, "jaccard")))


@pytest.mark.parametrize("n", [1, 2])
def test_one_and_two_masks(n):
    dense = np.random.default_rng(n).random((n, ODD_LAYOUT.n_weights)) < 0.3
    ms = make_maskset(dense)
    tl.distances(ms, metric="jaccard")
    assert ms.obsp["dist_jaccard"].shape == (n, n)
    assert "dist_hamming" not in ms.obsp
    if n == 2:
        assert ms.obsp["dist_jaccard"][0, 1] == pdist(dense, "jaccard")[0]


def test_copy_and_key_added(odd_masks):
    ms = make_maskset(odd_masks)
    out = tl.distances(ms, metric="hamming", key_added="run1", copy=True)
    assert not ms.obsp and "run1_dist_hamming" in out.obsp and "run1" in out.uns


def test_bad_metric(odd_masks):
    with pytest.raises(AnalysisError, match="euclid"):
        tl.distances(make_maskset(odd_masks), metric="euclid")


def test_matrices_larger_than_the_ram_available_are_refused_before_any_work(odd_masks, monkeypatch, tmp_path):
    """An out-of-memory kill would come only after the counting: the in-memory route says so up
    front, with the way out, and the tiles compute the same matrices within a budget."""
    from landscape.tl.distances import in_memory_bytes, peak_bytes

    ms = make_maskset(odd_masks)
    held = in_memory_bytes(len(ms), len(ms.layout), 2, True)
    assert held == 8 * 9 * 9 * (len(ODD_LAYOUT) + 1 + 2 + 2 * len(ODD_LAYOUT))
    need = peak_bytes(len(ms), len(ms.layout), 2, True)  # and a Jaccard's temporaries
    assert need == held + 17 * 9 * 9 * len(ODD_LAYOUT)
    monkeypatch.setattr("landscape.ram.available_ram", lambda: need - 1)
    with pytest.raises(
        AnalysisError, match=r"^distances of 9 masks in memory: their per-layer matrices need .* pass memory="
    ):
        tl.distances(ms, per_layer=True)
    assert not ms.obsp  # nothing half-written
    tl.distances(ms, per_layer=True, memory="64MB", tiles=tmp_path / "tiles")
    np.testing.assert_array_equal(ms.obsp["dist_jaccard"], squareform(pdist(odd_masks, "jaccard")))
    monkeypatch.setattr("landscape.ram.available_ram", lambda: need)  # fits exactly
    tl.distances(ms, per_layer=True)
    monkeypatch.setattr("landscape.ram.available_ram", lambda: None)  # unknown: not refused
    tl.distances(ms, per_layer=True)
