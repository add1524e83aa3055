"""Hooks that watch the training loop's steps: timing, host synchronisations, torch.profiler.

A :class:`~landscape.search.trainer.Trainer` takes ``hooks=[...]``; each hook's
``steps(trainer, epoch)`` context wraps the step loop of every epoch (the per-epoch
evaluation and checkpoint stay outside it) and ``step_done(step)`` follows every step.
Hooks are entered in the order given and left in reverse, so a :class:`StepTimer` listed
before a :class:`HostSyncAudit` synchronises the device outside the audited window.

    timer, audit = StepTimer(), HostSyncAudit()
    Trainer(cfg, data, 0, seeds, "cuda", hooks=[timer, audit]).run()
    timer.seconds, audit.events
"""

from __future__ import annotations

import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import torch


class StepHook:
    """No-op base: override :meth:`steps` and/or :meth:`step_done`."""

    def steps(self, trainer, epoch: int) -> AbstractContextManager:
        return nullcontext()

    def step_done(self, step: int) -> None:
        pass


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer(StepHook):
    """Seconds spent in each epoch's step loop (the device synchronised at both ends only)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.steps_run = 0

    @contextmanager
    def steps(self, trainer, epoch: int) -> Iterator[None]:
        synchronize(trainer.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            synchronize(trainer.device)
            self.seconds.append(time.perf_counter() - start)

    def step_done(self, step: int) -> None:
        self.steps_run += 1

    @property
    def total(self) -> float:
        return sum(self.seconds)


# Tensor methods that read values back to the host: each one waits for the device
_HOST_READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__",
               "nonzero", "unique", "__repr__", "__format__", "equal")  # fmt: skip
_TORCH_READS = ("nonzero", "unique", "masked_select", "equal", "allclose", "is_nonzero")
# Tensor makers from host data: with a device given, a host-to-device copy that waits
_HOST_DATA = ("tensor", "as_tensor")


class HostSyncAudit(StepHook):
    """Host synchronisations inside the step loops, with where they come from.

    On CUDA this is torch's own detector (``torch.cuda.set_sync_debug_mode("warn")``): every
    synchronising call warns, and each warning is recorded. On the CPU nothing synchronises,
    so the audit records the calls that WOULD on an accelerator: reading tensor values
    back (``item``, ``tolist``, ``numpy``, ``cpu``, ``bool``/``int``/``float`` of a tensor,
    ``nonzero``, ``unique``, printing, ``torch.equal``...), indexing with a bool mask, and
    making a tensor from host data for a device (``torch.tensor(values, device=x.device)``:
    a blocking host-to-device copy there).
    On the CPU run the step loop on a torch top-k route (``methods.select.use("kthvalue")``):
    the default CPU route reads values on purpose (numpy introselect, numba kernels).

    Attributes
    ----------
    events
        One ``"file:line: what"`` string per synchronising call, in order.
    """

    def __init__(self) -> None:
        self.events: list[str] = []

    @property
    def count(self) -> int:
        return len(self.events)

    def summary(self, top: int = 10) -> list[tuple[str, int]]:
        """The most frequent call sites with their counts."""
        return Counter(self.events).most_common(top)

    def steps(self, trainer, epoch: int) -> AbstractContextManager:
        if trainer.device.type == "cuda":
            return self._cuda()
        return self._host_reads()

    @contextmanager
    def _cuda(self) -> Iterator[None]:
        before = torch.cuda.get_sync_debug_mode()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                yield
            finally:
                torch.cuda.set_sync_debug_mode(before)
        for w in caught:
            if "synchroniz" in str(w.message).lower():
                self.events.append(f"{Path(w.filename).name}:{w.lineno}: {str(w.message).splitlines()[0]}")
            else:  # not ours: pass it on
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    @contextmanager
    def _host_reads(self) -> Iterator[None]:
        patched: list[tuple[object, str, object]] = []
        busy = [False]

        def wrap(owner, name: str) -> None:
            original = getattr(owner, name, None)
            if original is None:
                return

            def audited(*args, **kwargs):
                if busy[0]:  # inside another audited call (printing reads items): counted once
                    return original(*args, **kwargs)
                busy[0] = True
                try:
                    self.events.append(f"{_caller()}: {name}")
                    return original(*args, **kwargs)
                finally:
                    busy[0] = False

            patched.append((owner, name, original))
            setattr(owner, name, audited)

        def getitem(tensor, index):
            if busy[0] or not _has_mask_index(index):
                return original_getitem(tensor, index)
            busy[0] = True
            try:
                self.events.append(f"{_caller()}: boolean-mask indexing")
                return original_getitem(tensor, index)
            finally:
                busy[0] = False

        def from_host(name: str):
            original = getattr(torch, name)

            def audited(data, *args, **kwargs):
                if not busy[0] and kwargs.get("device") is not None and not isinstance(data, torch.Tensor):
                    self.events.append(f"{_caller()}: tensor from host data")
                return original(data, *args, **kwargs)

            patched.append((torch, name, original))
            setattr(torch, name, audited)

        original_getitem = torch.Tensor.__getitem__
        for name in _HOST_READS:
            wrap(torch.Tensor, name)
        for name in _TORCH_READS:
            wrap(torch, name)
        for name in _HOST_DATA:
            from_host(name)
        torch.Tensor.__getitem__ = getitem
        try:
            yield
        finally:
            torch.Tensor.__getitem__ = original_getitem
            for owner, name, original in reversed(patched):
                setattr(owner, name, original)


def _has_mask_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in items)


def _caller() -> str:
    """``file:line`` of the innermost frame outside torch and this module: who asked."""
    torch_dir = str(Path(torch.__file__).parent)
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(torch_dir) and name != __file__:
            return f"{Path(name).name}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


class TorchProfile(StepHook):
    """``torch.profiler`` over ``n_steps`` steps of epoch ``epoch`` (after ``skip`` warm-up steps).

    ``table()`` lists the top operators by device (else CPU) time; ``export(path)`` writes a
    Chrome trace (``chrome://tracing``, Perfetto).
    """

    def __init__(self, epoch: int = 0, skip: int = 1, n_steps: int = 3, row_limit: int = 25) -> None:
        self.epoch, self.skip, self.n_steps, self.row_limit = epoch, skip, n_steps, row_limit
        self.prof = None
        self._active = False
        self._device_type = "cpu"

    @contextmanager
    def steps(self, trainer, epoch: int) -> Iterator[None]:
        if epoch != self.epoch:
            yield
            return
        from torch.profiler import ProfilerActivity, profile, schedule

        self._device_type = trainer.device.type
        activities = [ProfilerActivity.CPU]
        if self._device_type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        plan = schedule(wait=0, warmup=self.skip, active=self.n_steps, repeat=1)
        with profile(activities=activities, schedule=plan, record_shapes=False) as prof:
            self.prof, self._active = prof, True
            try:
                yield
            finally:
                self._active = False

    def step_done(self, step: int) -> None:
        if self._active:
            self.prof.step()

    def table(self) -> str:
        if self.prof is None:
            return "(no profile: the profiled epoch never ran)"
        key = "self_cuda_time_total" if self._device_type == "cuda" else "self_cpu_time_total"
        return self.prof.key_averages().table(sort_by=key, row_limit=self.row_limit)

    def export(self, path: str | Path) -> None:
        if self.prof is not None:
            self.prof.export_chrome_trace(str(path))
