"""Conv-x and CIFAR ResNets: exact weight counts, shapes, dense layers, batched == per mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscape import registries
from landscape.config import ModelConfig
from landscape.errors import ConfigError
from landscape.nn.layers import EnsembleBatchNorm, MaskedConv2d, MaskedLinear
from landscape.nn.models import MLP, conv2, conv4, conv6, conv8, resnet18, resnet20

CIFAR = (3, 32, 32)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # these tensors are tiny: intra-op threads only add synchronisation cost
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def build(name: str, n_masks: int = 1, input_shape=CIFAR, **cfg):
    ctor = registries.models.load(name)
    return ctor(ModelConfig(name=name, **cfg), input_shape, 10, n_masks)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("conv2", 4_300_992), ("conv4", 2_425_024), ("conv6", 2_261_184), ("conv8", 5_275_840)],
)
def test_conv_weight_counts_match_reference(name, expected):
    assert build(name).layout().n_weights == expected


def test_resnet18_weight_count():
    # stem 3*64*9 = 1,728
    # stage 1: 4 convs 64*64*9                                   =   147,456
    # stage 2: 64*128*9 + 3 * 128*128*9 + 1x1 shortcut 64*128    =   524,288
    # stage 3: 128*256*9 + 3 * 256*256*9 + shortcut 128*256      = 2,097,152
    # stage 4: 256*512*9 + 3 * 512*512*9 + shortcut 256*512      = 8,388,608
    # classifier 512*10 = 5,120                          total     11,164,352
    layout = build("resnet18").layout()
    assert layout.n_weights == 11_164_352
    assert layout["conv1"].shape == (64, 3, 3, 3)
    assert layout["layer2.0.shortcut.0"].shape == (128, 64, 1, 1)
    assert layout["fc"].shape == (10, 512)
    assert layout.names[-1] == "fc"
    assert len(layout) == 1 + 16 + 3 + 1


def test_resnet20_weight_count_and_option_b_shortcuts():
    layout = build("resnet20").layout()
    # stem 432 + stage 1 (6 * 2,304) + stage 2 (4,608 + 5 * 9,216 + 512)
    # + stage 3 (18,432 + 5 * 36,864 + 2,048) + classifier 640
    assert layout.n_weights == 270_896
    shortcuts = [n for n in layout.names if "shortcut" in n]
    assert shortcuts == ["layer2.0.shortcut.0", "layer3.0.shortcut.0"]
    assert len(layout) == 1 + 18 + 2 + 1


def test_conv_layer_names_and_shapes():
    layout = build("conv4").layout()
    assert layout.names == ["convs.0", "convs.1", "convs.2", "convs.3", "fcs.0", "fcs.1", "fcs.2"]
    assert layout["convs.2"].shape == (128, 64, 3, 3)
    assert layout["fcs.0"].shape == (256, 128 * 8 * 8)


def test_width_mult_scales_hidden_widths_only():
    layout = build("conv4", width_mult=0.5).layout()
    assert layout["convs.0"].shape == (32, 3, 3, 3)
    assert layout["convs.3"].shape == (64, 64, 3, 3)
    assert layout["fcs.0"].shape == (128, 64 * 8 * 8)
    assert layout["fcs.2"].shape == (10, 128)
    expected = 3 * 32 * 9 + 32 * 32 * 9 + 32 * 64 * 9 + 64 * 64 * 9 + 4096 * 128 + 128 * 128 + 1280
    assert layout.n_weights == expected


def test_width_mult_resnets():
    r18 = build("resnet18", width_mult=0.5).layout()
    assert r18["conv1"].shape == (64, 3, 3, 3)  # stem unscaled, as in IteRand
    assert r18["layer1.0.conv1"].shape == (32, 64, 3, 3)
    assert r18["layer1.0.shortcut.0"].shape == (32, 64, 1, 1)  # stem 64 -> stage 32
    assert r18["fc"].shape == (10, 256)
    r20 = build("resnet20", width_mult=2).layout()
    assert r20["conv1"].shape == (32, 3, 3, 3)
    assert r20["fc"].shape == (10, 128)
    assert "layer1.0.shortcut.0" not in r20.names


@pytest.mark.parametrize("name", ["conv2", "conv4", "conv6", "conv8", "resnet18", "resnet20"])
@pytest.mark.parametrize("n_masks", [1, 3])
def test_output_shapes(name, n_masks):
    width = 0.0625 if name != "resnet20" else 0.25
    net = build(name, n_masks, width_mult=width)
    net.init_weights(0, "signed_constant")
    net.set_fixed_masks(
        {n: np.ones((n_masks, *s.shape), bool) for n, s in zip(net.layout().names, net.layout())}
    )
    out = net(torch.randn(n_masks, 2, *CIFAR))
    assert out.shape == (n_masks, 2, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("name", "shape", "flat"), [("conv2", (1, 28, 28), 64 * 14 * 14), ("conv2", (1, 8, 8), 64 * 16)]
)
def test_conv_flat_size_follows_input_shape(name, shape, flat):
    net = build(name, 2, input_shape=shape)
    assert net.layout()["fcs.0"].shape == (256, flat)
    net.init_weights(1, "kaiming_normal")
    net.set_fixed_masks({n: np.ones((2, *s.shape), bool) for n, s in zip(net.layout().names, net.layout())})
    assert net(torch.randn(2, 3, *shape)).shape == (2, 3, 10)


def test_resnet_runs_on_mnist_shape():
    net = build("resnet20", 1, input_shape=(1, 28, 28), width_mult=0.25)
    net.init_weights(0, "signed_constant")
    net.set_fixed_masks({n: np.ones((1, *s.shape), bool) for n, s in zip(net.layout().names, net.layout())})
    assert net(torch.randn(1, 2, 1, 28, 28)).shape == (1, 2, 10)


def test_bad_input_shapes_raise_config_error():
    with pytest.raises(ConfigError, match="conv8.*16x16"):
        build("conv8", input_shape=(1, 8, 8))
    with pytest.raises(ConfigError, match="data.input_shape"):
        build("conv4", input_shape=(64,))
    with pytest.raises(ConfigError, match="data.input_shape"):
        build("resnet20", input_shape=(64,))


def test_batchnorm_settings():
    assert not build("conv4", width_mult=0.125).batchnorms()
    conv_bn = build("conv4", width_mult=0.125, batchnorm="nonaffine").batchnorms()
    assert len(conv_bn) == 4 + 2  # every conv and both hidden FC layers
    assert all(not bn.bn.affine for bn in conv_bn)
    r20 = build("resnet20", width_mult=0.25).batchnorms()
    assert len(r20) == 1 + 18 + 2
    assert all(isinstance(bn, EnsembleBatchNorm) and not bn.bn.affine for bn in r20)
    assert build("resnet20", width_mult=0.25, batchnorm="nonaffine").batchnorms()
    assert not build("resnet20", width_mult=0.25, batchnorm="none").batchnorms()


@pytest.mark.parametrize("name", ["conv4", "resnet18", "resnet20"])
def test_dense_first_and_last_layers(name):
    net = build(name, width_mult=0.125, first_layer_dense=True, last_layer_dense=True)
    layers = net.masked_layers()
    flags = [layer.dense for _, layer in layers]
    assert flags[0] and flags[-1] and not any(flags[1:-1])
    assert isinstance(layers[0][1], MaskedConv2d) and isinstance(layers[-1][1], MaskedLinear)
    plain = build(name, width_mult=0.125)
    assert not any(layer.dense for _, layer in plain.masked_layers())
    # a dense layer ignores its scores: all ones whatever the rule says
    assert bool(layers[0][1].mask().all())


def test_dense_first_layer_only():
    net = build("conv2", width_mult=0.125, first_layer_dense=True)
    assert [layer.dense for _, layer in net.masked_layers()] == [True] + [False] * 4


def _random_masks(net, rng, density=0.5):
    layout = net.layout()
    return {
        name: rng.random((net.n_masks, *spec.shape)) < density for name, spec in zip(layout.names, layout)
    }


@pytest.mark.parametrize(("name", "width"), [("conv4", 0.125), ("resnet20", 0.25)])
def test_batched_equals_per_mask(name, width):
    """Mask i of an M-mask model gives the logits of a one-mask model holding mask i."""
    torch.manual_seed(0)
    n_masks = 3
    rng = np.random.default_rng(0)
    batched = build(name, n_masks, width_mult=width)
    batched.init_weights(7, "signed_constant")
    masks = _random_masks(batched, rng)
    batched.set_fixed_masks(masks)
    batched.train()
    x = torch.randn(n_masks, 4, *CIFAR)
    out = batched(x)
    for i in range(n_masks):
        single = build(name, 1, width_mult=width)
        single.init_weights(7, "signed_constant")
        single.set_fixed_masks({k: v[i : i + 1] for k, v in masks.items()})
        single.train()
        ref = single(x[i : i + 1])
        torch.testing.assert_close(out[i : i + 1], ref, atol=1e-5, rtol=1e-5)
        # BN running statistics of mask i match too
        for bn_b, bn_s in zip(batched.batchnorms(), single.batchnorms()):
            c = bn_s.num_features
            torch.testing.assert_close(bn_b.bn.running_mean[i * c : (i + 1) * c], bn_s.bn.running_mean)
    assert not torch.allclose(out[0], out[1])  # different masks, different logits


def test_batched_conv_with_batchnorm_and_rule_free_dense_layers():
    # non-affine BN in Conv-x keeps per-mask statistics: a mask's logits do not depend on
    # what the other masks see
    net = build("conv2", 2, width_mult=0.125, batchnorm="nonaffine", input_shape=(1, 8, 8))
    net.init_weights(0, "kaiming_normal")
    net.set_fixed_masks(_random_masks(net, np.random.default_rng(1)))
    x = torch.randn(2, 5, 1, 8, 8)
    out = net(x)
    x2 = x.clone()
    x2[1] = torch.randn(5, 1, 8, 8) * 10
    torch.testing.assert_close(net(x2)[0], out[0])


def test_mlp_unchanged():
    net = MLP(ModelConfig(hidden=(32, 16)), (1, 8, 8), 10, 2)
    assert net.layout().names == ["fcs.0", "fcs.1", "fcs.2"]
    assert net.layout()["fcs.0"].shape == (32, 64)


def test_constructors_are_the_registered_ones():
    for name, ctor in [
        ("conv2", conv2),
        ("conv4", conv4),
        ("conv6", conv6),
        ("conv8", conv8),
        ("resnet18", resnet18),
        ("resnet20", resnet20),
    ]:
        assert registries.models.load(name) is ctor
