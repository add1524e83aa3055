"""The fused CPU route of the masked weight: bit-identical to the torch expressions it replaces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscape.search.methods import _cpu_kernels as kernels
from landscape.search.methods import _fused_route
from landscape.search.methods.base import kth_largest_rows
from landscape.search.methods.edge_popup import EdgePopup
from landscape.search.methods.iterand import IteRand
from landscape.search.methods.sources import layer_kept
from tests.search.test_methods import make


def bits(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().view(np.int32)


def awkward(shape, seed: int) -> torch.Tensor:
    """Normal values with exact zeros of both signs sprinkled in."""
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    flat = x.view(-1)
    flat[::17] = 0.0
    flat[5::23] = -0.0
    return x


@pytest.mark.parametrize("weight_rows", [1, 3])
@pytest.mark.parametrize("by_abs", [True, False])
def test_masked_weight_matches_weight_times_bool_mask(weight_rows, by_abs):
    scores, weight = awkward((3, 7, 11), 0), awkward((weight_rows, 7, 11), 1)
    keys = scores.abs() if by_abs else scores
    thresholds = keys.reshape(3, -1).median(dim=1).values
    effective, counts = kernels.masked_weight_rows(scores, weight, thresholds.numpy(), by_abs)
    hard = keys >= thresholds[:, None, None]
    assert np.array_equal(bits(effective), bits(weight * hard))  # signed zeros included
    assert counts.tolist() == hard.reshape(3, -1).sum(1).tolist()


@pytest.mark.parametrize("weight_rows", [1, 4])
@pytest.mark.parametrize("by_abs", [True, False])
def test_score_gradient_matches_the_torch_chain(weight_rows, by_abs):
    grad, weight, scores = awkward((4, 9, 5), 2), awkward((weight_rows, 9, 5), 3), awkward((4, 9, 5), 4)
    scores.view(-1)[3] = float("nan")  # torch.sign(nan) is 0: the kernel agrees
    expected = grad * weight
    if by_abs:
        expected = expected * scores.sign()
    got = kernels.score_grad_rows(grad, weight, scores, by_abs)
    assert np.array_equal(bits(got), bits(expected))
    strided = grad.transpose(1, 2).contiguous().transpose(1, 2)  # same values, transposed layout
    assert np.array_equal(bits(kernels.score_grad_rows(strided, weight, scores, by_abs)), bits(expected))


@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_selection_matches_numpy(threads, monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    rows = np.random.default_rng(0).standard_normal((5, 40_000)).astype(np.float32)
    rows[1, :100] = rows[1, 100]  # ties
    for k in (1, 7, 20_000, 40_000):
        expected = np.sort(rows, axis=1)[:, -k]
        assert np.array_equal(kth_largest_rows(rows, k), expected)
    work = rows.copy()
    assert np.array_equal(kth_largest_rows(work, 9, in_place=True), np.sort(rows, axis=1)[:, -9])
    assert not np.array_equal(work, rows) and np.array_equal(np.sort(work, 1), np.sort(rows, 1))


def _step(cls, fused: bool, monkeypatch, **overrides):
    """Effective weights and score gradients of one forward/backward, fused route on or off."""
    calls = []
    real = kernels.masked_weight_rows

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(kernels, "masked_weight_rows", counting)
    monkeypatch.setattr(_fused_route, "fused_cpu", (lambda: kernels) if fused else (lambda: None))
    model, method = make(cls, m=3, hidden=(64, 48), **overrides)
    x = torch.randn(3, 10, 8, generator=torch.Generator().manual_seed(0))
    model(x).square().sum().backward()
    layers = [layer for _, layer in model.masked_layers() if not layer.dense]
    weights = [layer.effective_weight().detach() for layer in layers]
    return weights, [layer.scores.grad for layer in layers], len(calls)


@pytest.mark.parametrize(
    ("cls", "overrides"), [(EdgePopup, {}), (IteRand, {}), (EdgePopup, {"method.density": 0.1})]
)
def test_fused_route_gives_the_torch_route_bit_for_bit(cls, overrides, monkeypatch):
    w_fused, g_fused, calls = _step(cls, True, monkeypatch, **overrides)
    w_plain, g_plain, plain_calls = _step(cls, False, monkeypatch, **overrides)
    assert calls > 0 and plain_calls == 0  # the routes under comparison really ran
    for a, b in zip(w_fused, w_plain, strict=True):
        assert np.array_equal(bits(a), bits(b))
    for a, b in zip(g_fused, g_plain, strict=True):
        assert np.array_equal(bits(a), bits(b))


def test_tied_scores_fall_back_to_the_exact_count():
    model, method = make(EdgePopup, m=2, hidden=(16, 12))
    layer = next(la for _, la in model.masked_layers() if not la.dense)
    with torch.no_grad():
        layer.scores.copy_(torch.randint(0, 3, layer.scores.shape).float())  # massive ties
    k = layer_kept(layer.numel, method.cfg.method)
    assert _fused_route.fused_cpu_weight(layer, k, by_abs=True) is None
    kept = (layer.effective_weight() != 0).reshape(2, -1).sum(1)  # no weight is exactly 0
    assert kept.tolist() == [k, k]


def _select_in_child(rows: np.ndarray, k: int) -> np.ndarray:
    return kth_largest_rows(rows, k)


def test_threaded_selection_works_in_a_forked_child(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    rows = np.random.default_rng(1).standard_normal((4, 70_000)).astype(np.float32)
    expected = kth_largest_rows(rows, 10)  # the parent's selection threads now exist
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_select_in_child, (rows, 10)).get(timeout=60)  # hangs if threads were reused
    assert np.array_equal(got, expected)
