"""Masked 1-D convolutions and the MNIST-1D CNN: conv1d equivalence, shapes, batched == per mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from landscape import registries
from landscape.config import ModelConfig
from landscape.errors import ConfigError
from landscape.nn.layers import MaskedConv1d
from landscape.nn.models1d import CNN1d

SIGNAL = (1, 40)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class _Rule:
    """A mask rule with a straight-through gradient: mask = (scores > 0), weight * mask."""

    def prepare(self, model):
        pass

    def mask(self, layer):
        hard = (layer.scores > 0).to(layer.scores.dtype)
        return hard + layer.scores - layer.scores.detach()

    def effective_weight(self, layer, mask):
        return mask * layer.weight


@pytest.mark.parametrize(("stride", "padding", "n_masks"), [(1, 0, 1), (2, 1, 4)])
def test_masked_conv1d_equals_functional_conv1d_on_masked_weight(stride, padding, n_masks):
    """Forward and the gradients to input and scores equal ``F.conv1d`` on ``mask * weight``,
    mask by mask (grouped over masks = one convolution per mask)."""
    torch.manual_seed(0)
    c_in, c_out, k, length, batch = 3, 5, 4, 17, 6
    layer = MaskedConv1d(c_in, c_out, k, stride=stride, padding=padding, n_masks=n_masks)
    layer.weight = torch.randn(1, c_out, c_in, k)
    with torch.no_grad():
        layer.scores.copy_(torch.randn(n_masks, c_out, c_in, k))
    layer.rule = _Rule()
    x = torch.randn(batch, n_masks * c_in, length, requires_grad=True)
    out = layer(x)
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()

    mask = (layer.scores.detach() > 0).float()
    for m in range(n_masks):
        xm = x.detach()[:, m * c_in : (m + 1) * c_in].clone().requires_grad_(True)
        wm = (mask[m] * layer.weight[0]).requires_grad_(True)
        ref = F.conv1d(xm, wm, stride=stride, padding=padding)
        block = slice(m * c_out, (m + 1) * c_out)
        torch.testing.assert_close(out[:, block], ref, rtol=1e-6, atol=1e-6)
        (ref * upstream[:, block]).sum().backward()
        torch.testing.assert_close(x.grad[:, m * c_in : (m + 1) * c_in], xm.grad, rtol=1e-6, atol=1e-6)
        # straight-through: d loss / d scores = d loss / d (mask * w) * w
        torch.testing.assert_close(layer.scores.grad[m], wm.grad * layer.weight[0], rtol=1e-6, atol=1e-6)
    assert layer.fan_in == c_in * k


def test_cnn1d_is_the_reference_architecture():
    net = CNN1d(ModelConfig(name="cnn1d"), SIGNAL, 10, 1)
    layout = net.layout()
    assert layout.names == ["convs.0", "convs.1", "convs.2", "fc"]
    assert layout["convs.0"].shape == (25, 1, 5)
    assert layout["convs.1"].shape == (25, 25, 3)
    assert layout["convs.2"].shape == (25, 25, 3)
    assert layout["fc"].shape == (10, 125)  # 40 -> 19 -> 10 -> 5 positions, as the reference's linear_in=125
    assert layout.n_weights == 125 + 1875 + 1875 + 1250
    assert [c.stride for c in net.convs] == [2, 2, 2] and [c.padding for c in net.convs] == [1, 1, 1]
    assert registries.models.load("cnn1d") is CNN1d


def test_cnn1d_width_mult_and_other_lengths():
    layout = CNN1d(ModelConfig(name="cnn1d", width_mult=2), (1, 72), 10, 1).layout()
    assert layout["convs.1"].shape == (50, 50, 3)
    # 72 -> 35 -> 18 -> 9
    assert layout["fc"].shape == (10, 50 * 9)
    with pytest.raises(ConfigError, match="data.input_shape"):
        CNN1d(ModelConfig(name="cnn1d"), (1, 8, 8), 10, 1)
    with pytest.raises(ConfigError, match="too short"):
        CNN1d(ModelConfig(name="cnn1d"), (1, 2), 10, 1)


def test_cnn1d_matches_reference_convbase_without_biases():
    """Same weights into torch's Conv1d/Linear stack of the reference CNN (biases zero)."""
    net = CNN1d(ModelConfig(name="cnn1d"), SIGNAL, 10, 1)
    net.init_weights(3, "kaiming_normal")
    net.set_fixed_masks({n: np.ones((1, *s.shape), bool) for n, s in zip(net.layout().names, net.layout())})
    x = torch.randn(7, 1, 40)
    h = x
    for conv in net.convs:
        h = F.conv1d(h, conv.weight[0], stride=2, padding=1).relu()
    ref = h.reshape(7, -1) @ net.fc.weight[0].T
    torch.testing.assert_close(net(x.unsqueeze(0))[0], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batchnorm", ["none", "nonaffine"])
def test_cnn1d_batched_equals_per_mask(batchnorm):
    torch.manual_seed(0)
    n_masks, rng = 3, np.random.default_rng(0)
    cfg = ModelConfig(name="cnn1d", width_mult=0.5, batchnorm=batchnorm)
    batched = CNN1d(cfg, SIGNAL, 10, n_masks)
    batched.init_weights(7, "signed_constant")
    masks = {
        n: rng.random((n_masks, *s.shape)) < 0.5 for n, s in zip(batched.layout().names, batched.layout())
    }
    batched.set_fixed_masks(masks)
    x = torch.randn(n_masks, 4, *SIGNAL)
    out = batched(x)
    for i in range(n_masks):
        single = CNN1d(cfg, SIGNAL, 10, 1)
        single.init_weights(7, "signed_constant")
        single.set_fixed_masks({k: v[i : i + 1] for k, v in masks.items()})
        torch.testing.assert_close(out[i : i + 1], single(x[i : i + 1]), atol=1e-5, rtol=1e-5)
    assert len(batched.batchnorms()) == (3 if batchnorm == "nonaffine" else 0)
    assert not torch.allclose(out[0], out[1])
