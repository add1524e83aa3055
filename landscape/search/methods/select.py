"""Routes of the top-k threshold: which kernel finds each row's k-th largest key.

Every route returns the same value (an element of the row, found exactly), so the masks
never depend on the route; ties at the threshold are then resolved by lowest index
(``base.topk_mask``). Routes:

- ``"auto"`` (default): ``"numpy"`` for float CPU tensors, ``"kthvalue"`` elsewhere;
- ``"numpy"``: ``np.partition`` (introselect) split over the torch threads, with the kept
  count checked on the host, and the fused numba kernels of the masked-weight step
  (``_fused_route``, ``_cpu_kernels``); CPU only;
- ``"kthvalue"``: ``Tensor.kthvalue``;
- ``"topk"``: ``Tensor.topk`` of the smaller side (the k largest, or the ``N - k + 1``
  smallest) and its extreme value; on CUDA it selects with several thread blocks per row,
  which pays for rows of millions of keys;
- ``"sort"``: a full sort per row (the reference codes' way; the baseline).

The torch routes never read a value back to the host, so a step that takes them runs
without host synchronisation on an accelerator; on the CPU they run the device-generic
code an accelerator runs (what the host-sync audit of the training loop checks).
"""

from __future__ import annotations

import torch
from torch import Tensor

from landscape.switch import RouteSwitch

ROUTES = ("auto", "numpy", "kthvalue", "topk", "sort")
_switch = RouteSwitch("top-k route", ROUTES, "auto")
current = _switch.current  # the top-k route of every method now
set_route = _switch.set_route  # make a route the top-k route of every method
use = _switch.use  # ``with use("kthvalue"): ...`` restores the previous route afterwards


def host_kernels() -> bool:
    """Whether CPU tensors may take the host-side kernels (introselect, fused numba passes)."""
    return _switch.current() in ("auto", "numpy")


def resolve(values: Tensor) -> str:
    """The concrete route for ``values`` under the current setting."""
    on_host = values.device.type == "cpu" and values.dtype in (torch.float32, torch.float64)
    route = _switch.current()
    if route == "auto":
        return "numpy" if on_host else "kthvalue"
    if route == "numpy" and not on_host:
        raise ValueError(f"top-k route 'numpy' runs on float CPU tensors only, not {values.device}")
    return route


def kth_largest_torch(values: Tensor, k: int, route: str) -> Tensor:
    """``(R, 1)`` k-th largest entry of each row of ``values`` ``(R, N)``, ``1 <= k <= N``."""
    n = values.shape[1]
    if route == "kthvalue":
        return values.kthvalue(n - k + 1, dim=1, keepdim=True).values
    if route == "topk":
        if k <= n - k + 1:
            return values.topk(k, dim=1, largest=True, sorted=False).values.amin(dim=1, keepdim=True)
        return values.topk(n - k + 1, dim=1, largest=False, sorted=False).values.amax(dim=1, keepdim=True)
    if route == "sort":
        return values.sort(dim=1, descending=True).values[:, k - 1 : k]
    raise ValueError(f"top-k route {route!r} is not a torch route")
