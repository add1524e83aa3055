"""The training step loop never reads a value back to the host (so never waits for a GPU).

On CUDA torch's own detector counts synchronising calls. On the CPU nothing synchronises,
so :class:`HostSyncAudit` records the calls that would (reading tensor values back, bool-mask
indexing); the step loop runs on a torch top-k route there, the code an accelerator runs.
"""

from __future__ import annotations

import dataclasses
import json
from contextlib import nullcontext

import pytest
import torch

from landscape.config import SearchConfig
from landscape.data.augment import CropFlip
from landscape.data.cifar import BLACK
from landscape.search.methods import select
from landscape.search.profiling import HostSyncAudit, StepTimer, TorchProfile
from landscape.search.runner import load_dataset
from landscape.search.trainer import Trainer

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]
SMALL_IMAGES = {
    "data.name": "synthetic",
    "data.input_shape": [3, 16, 16],  # 3 channels: crop-and-flip augmentation on
    "data.n_train": 120,
    "data.n_test": 40,
    "train.epochs": 2,
    "train.batch_size": 32,
}
CASES = {
    "edge_popup conv4": {"model.name": "conv4", "model.width_mult": 0.125},
    "biprop resnet20 (BatchNorm), global top-k": {
        "model.name": "resnet20",
        "model.width_mult": 0.25,
        "method.name": "biprop",
        "model.weight_init": "kaiming_normal",  # Biprop needs weights of varying magnitude
        "method.global_topk": True,
    },
    "iterand conv4 (a re-draw at the last step)": {
        "model.name": "conv4",
        "model.width_mult": 0.125,
        "method.name": "iterand",
        # 6 steps: one re-draw, before the last (a period beyond them is refused)
        "method.rerand.every": 6,
    },
    "edge_popup conv4, crop padded with CIFAR-10's black": {
        "model.name": "conv4",
        "model.width_mult": 0.125,
        "augment": CropFlip(pad=4, fill=BLACK),
    },
}


def _trainer(overrides: dict, device: str, hooks) -> Trainer:
    overrides = dict(overrides)
    augment = overrides.pop("augment", None)  # not a config value: the dataset's own
    cfg = SearchConfig().replace(**{**SMALL_IMAGES, **overrides})
    dataset = load_dataset(cfg.data)
    if augment is not None:
        dataset = dataclasses.replace(dataset, augment=augment)
    return Trainer(cfg, dataset, 0, [0, 1], device, progress=False, hooks=hooks)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(CASES))
def test_the_step_loop_makes_no_host_sync(device, case):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    timer, audit = StepTimer(), HostSyncAudit()
    trainer = _trainer(CASES[case], device, [timer, audit])
    assert trainer.dataset.augment is not None
    with select.use("kthvalue") if device == "cpu" else nullcontext():
        trainer.run()
    assert timer.steps_run == 2 * 3 and len(timer.seconds) == 2  # 96 training rows, batches of 32
    assert audit.events == [], audit.summary()


def test_the_audit_sees_host_reads():
    """The CPU default route reads on purpose (numpy introselect and the fused numba kernels,
    forward and backward): the audit must see it, and planted reads of every kind."""
    audit = HostSyncAudit()
    _trainer(CASES["edge_popup conv4"], "cpu", [audit]).run()
    sites = {e.split(":", 1)[0] for e in audit.events}
    assert {"_fused_route.py", "_cpu_kernels.py"} <= sites, audit.summary()

    planted = HostSyncAudit()
    host = type("T", (), {"device": torch.device("cpu")})()
    t = torch.arange(4.0)
    with planted.steps(host, 0):
        t.sum().item()
        bool(t[0] > 1)
        t[t > 1]
        t.nonzero()
        torch.equal(t, t)
        print(t, file=open("/dev/null", "w"))  # noqa: SIM115 - printing a tensor reads it
        torch.tensor([1.0, 2.0], device=t.device)  # a host-to-device copy on an accelerator
        torch.as_tensor([1.0], device=t.device)
        torch.tensor([1.0, 2.0])  # a host tensor: no copy
        torch.as_tensor(t, device=t.device)  # already a tensor: no copy
    kinds = [e.split(": ", 1)[1] for e in planted.events]
    assert kinds == ["item", "__bool__", "boolean-mask indexing", "nonzero", "equal", "__repr__",
                     "tensor from host data", "tensor from host data"], kinds  # fmt: skip
    assert all(e.startswith("test_host_sync.py:") for e in planted.events)
    t.sum().item()  # outside the window: not counted, and methods are restored
    assert torch.Tensor.item.__name__ == "item" and torch.tensor.__name__ == "tensor"


def test_torch_profile_covers_the_chosen_steps(tmp_path):
    prof = TorchProfile(epoch=1, skip=1, n_steps=2)
    _trainer(CASES["edge_popup conv4"], "cpu", [prof]).run()
    assert "aten::" in prof.table()
    prof.export(tmp_path / "trace.json")
    events = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    assert any("conv" in str(e.get("name", "")) for e in events)
