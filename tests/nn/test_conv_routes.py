"""The exact formulations of M masks' convolutions (``nn.conv_routes``) agree with the grouped one.

Forward outputs and both gradients (input and effective weight) are compared with the grouped
convolution on the same tensors. On the CPU, ``vmap`` is bit-identical (torch lowers it to the
same grouped kernel) and so is ``channels_last`` for 1-D layers (they run grouped);
``unfold`` and 2-D ``channels_last`` run other kernels and agree within float32 rounding.
On CUDA every route is held to the float32 tolerance (cuDNN picks algorithms per shape).
"""

from __future__ import annotations

import pytest
import torch

from landscape.config import SearchConfig
from landscape.nn import conv_routes
from landscape.nn.conv_routes import ROUTES, ensemble_conv
from landscape.nn.models import conv4
from landscape.search.precision import strict_float32

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]
# (dims, input spatial size, kernel, stride, padding)
SHAPES = [
    (2, (9, 9), 3, 1, 1),
    (2, (10, 7), 3, 2, 0),
    (2, (8, 8), 1, 2, 0),
    (1, (17,), 3, 1, 1),
    (1, (16,), 5, 2, 2),
]


def _device(device: str) -> str:
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    return device


def _bit_identical_on_cpu(route: str, dims: int) -> bool:
    return route in ("grouped", "vmap") or (route == "channels_last" and dims == 1)


def _outputs(route, x, w, stride, padding, grad_out):
    out = ensemble_conv(x, w, stride, padding, route=route)
    gx, gw = torch.autograd.grad(out, (x, w), grad_out)
    return out, gx, gw


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(("dims", "size", "kernel", "stride", "padding"), SHAPES)
def test_route_matches_the_grouped_convolution(device, route, dims, size, kernel, stride, padding):
    device = _device(device)
    gen = torch.Generator().manual_seed(hash((dims, size, kernel, stride)) % 2**31)
    m, c_in, c_out, b = 3, 4, 5, 2
    x = torch.randn((b, m * c_in, *size), generator=gen).to(device).requires_grad_()
    w = torch.randn((m, c_out, c_in, *(kernel,) * dims), generator=gen).to(device).requires_grad_()
    conv = torch.nn.functional.conv1d if dims == 1 else torch.nn.functional.conv2d
    with strict_float32():  # cuDNN would use TF32 by default: compare float32 with float32
        reference = ensemble_conv(x, w, stride, padding, route="grouped")
        grad_out = torch.randn(reference.shape, generator=gen).to(device)
        expected = _outputs("grouped", x, w, stride, padding, grad_out)
        got = _outputs(route, x, w, stride, padding, grad_out)
        # each mask's block is that mask's own one-mask convolution
        alone = [
            conv(x[:, i * c_in : (i + 1) * c_in], w[i], stride=stride, padding=padding) for i in range(m)
        ]
    for i in range(m):
        torch.testing.assert_close(got[0][:, i * c_out : (i + 1) * c_out], alone[i], rtol=1e-5, atol=1e-5)
    for name, a, e in zip(("output", "input grad", "weight grad"), got, expected):
        assert a.shape == e.shape, name
        if device == "cpu" and _bit_identical_on_cpu(route, dims):
            assert torch.equal(a, e), f"{route}: {name} not bit-identical"
        else:
            torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5, msg=f"{route}: {name}")


@pytest.mark.parametrize("route", ROUTES)
def test_a_conv4_ensemble_gives_the_same_logits_and_score_gradients_on_every_route(route):
    cfg = SearchConfig().replace(**{"model.width_mult": 0.125})
    model = conv4(cfg.model, (3, 16, 16), 10, n_masks=2)
    model.init_weights(0, "signed_constant")
    model.init_scores([0, 1])
    from landscape.search.methods.edge_popup import EdgePopup

    EdgePopup(cfg.replace(**{"model.name": "conv4"})).setup(model, 0, [0, 1])
    x = torch.randn((2, 4, 3, 16, 16), generator=torch.Generator().manual_seed(0))

    def run(r):
        model.zero_grad(set_to_none=True)
        with conv_routes.use(r):
            logits = model(x)
        logits.square().sum().backward()
        return logits.detach(), [layer.scores.grad.clone() for _, layer in model.masked_layers()]

    ref_logits, ref_grads = run("grouped")
    logits, grads = run(route)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-4, atol=1e-5)
    for g, e in zip(grads, ref_grads):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)
    assert conv_routes.current() == "grouped"


def test_unknown_route_is_refused():
    with pytest.raises(ValueError, match="conv route 'winograd' is unknown"):
        conv_routes.set_route("winograd")
    with pytest.raises(ValueError, match="unknown"):
        ensemble_conv(torch.zeros(1, 2, 4, 4), torch.zeros(1, 1, 2, 3, 3), route="winograd")
