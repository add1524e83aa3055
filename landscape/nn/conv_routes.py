"""Exact formulations of the convolutions of M masks, behind one switch.

Every route maps the conv layout ``(B, M * C_in, *spatial)`` and an effective weight
``(M, C_out, C_in, *kernel)`` to ``(B, M * C_out, *spatial_out)``, mask ``m`` convolving
its own channel block with its own weight slice. They compute the same function and
differ in which kernels run:

- ``"grouped"`` (default): one grouped convolution with ``groups = M``;
- ``"unfold"``: im2col (``F.unfold``), then ONE batched matmul over the masks,
  ``(M, C_out, C_in k) @ (M, C_in k, B L)``; 1-D convolutions run as 2-D ones of height 1;
- ``"vmap"``: ``torch.func.vmap`` of the one-mask convolution over the masks (torch's
  batching rule for a batched weight lowers it to a grouped convolution itself);
- ``"channels_last"``: the grouped convolution on channels-last (NHWC) tensors, which
  cuDNN runs with other kernels; 2-D only (a 1-D layer runs ``"grouped"``).

``MaskedConv2d`` takes its route from here. (``MaskedConv1d`` keeps its own formulation, the
``"unfold"`` one, which makes batched 1-D searches bit-identical to one-mask ones on the CPU;
this module takes 1-D weights too.)

On the CPU, ``"vmap"`` gives outputs and gradients bit-identical to ``"grouped"``;
``"unfold"`` and ``"channels_last"`` agree within float32 rounding (see
``tests/nn/test_conv_routes.py``). Which route is fastest depends on the device and the
shapes (``benchmarks/gpu_check.py`` times them); the route is an engineering choice like
the device and never enters a run id.

    from landscape.nn import conv_routes
    with conv_routes.use("unfold"):
        trainer.run()
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from landscape.switch import RouteSwitch

ROUTES = ("grouped", "unfold", "vmap", "channels_last")
_switch = RouteSwitch("conv route", ROUTES, "grouped")
current = _switch.current  # the route convolutions take now
set_route = _switch.set_route  # make a route the default of every masked convolution
use = _switch.use  # ``with use("unfold"): ...`` restores the previous route afterwards

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _pair(value: int | tuple[int, ...], dims: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (int(value),) * dims


def ensemble_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    stride: int | tuple[int, ...] = 1,
    padding: int | tuple[int, ...] = 0,
    route: str | None = None,
) -> torch.Tensor:
    """Convolve each mask's channel block with its own weight slice.

    Parameters
    ----------
    x
        ``(B, M * C_in, *spatial)``.
    weight
        ``(M, C_out, C_in, *kernel)``; 1, 2 or 3 spatial dimensions.
    stride, padding
        As for ``torch.nn.functional.conv2d`` (an int or one value per dimension).
    route
        One of :data:`ROUTES`; default :func:`current`.
    """
    route = route or _switch.current()
    dims = weight.dim() - 3
    m, c_out = weight.shape[:2]
    if route == "unfold" and dims in (1, 2):
        return _unfold(x, weight, _pair(stride, dims), _pair(padding, dims))
    if route == "vmap":
        return _vmap(x, weight, stride, padding)
    if route == "channels_last" and dims == 2:
        x = x.contiguous(memory_format=torch.channels_last)
        flat = weight.reshape(m * c_out, *weight.shape[2:]).contiguous(memory_format=torch.channels_last)
        return F.conv2d(x, flat, stride=stride, padding=padding, groups=m)
    if route not in ROUTES:
        raise ValueError(f"conv route {route!r} is unknown; choose one of {', '.join(ROUTES)}")
    flat = weight.reshape(m * c_out, *weight.shape[2:])
    return _CONV[dims](x, flat, stride=stride, padding=padding, groups=m)


def _unfold(x: torch.Tensor, weight: torch.Tensor, stride: tuple, padding: tuple) -> torch.Tensor:
    if weight.dim() == 4:  # 1-D: a 2-D convolution over a height-1 image
        out = _unfold(x.unsqueeze(2), weight.unsqueeze(3), (1, *stride), (0, *padding))
        return out.squeeze(2)
    m, c_out, c_in, kh, kw = weight.shape
    b, _, h, w = x.shape
    h_out = (h + 2 * padding[0] - kh) // stride[0] + 1
    w_out = (w + 2 * padding[1] - kw) // stride[1] + 1
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)  # (B, M*C_in*kh*kw, L)
    k = c_in * kh * kw
    cols = cols.reshape(b, m, k, h_out * w_out).permute(1, 2, 0, 3).reshape(m, k, b * h_out * w_out)
    out = torch.bmm(weight.reshape(m, c_out, k), cols)  # (M, C_out, B*L)
    out = out.reshape(m, c_out, b, h_out, w_out).permute(2, 0, 1, 3, 4)
    return out.reshape(b, m * c_out, h_out, w_out)


def _vmap(x: torch.Tensor, weight: torch.Tensor, stride, padding) -> torch.Tensor:
    dims = weight.dim() - 3
    m, c_out, c_in = weight.shape[:3]
    b = x.shape[0]
    conv = _CONV[dims]

    def one(xi: torch.Tensor, wi: torch.Tensor) -> torch.Tensor:
        return conv(xi, wi, stride=stride, padding=padding)

    out = torch.func.vmap(one, in_dims=(1, 0), out_dims=1)(x.reshape(b, m, c_in, *x.shape[2:]), weight)
    return out.reshape(b, m * c_out, *out.shape[3:])
