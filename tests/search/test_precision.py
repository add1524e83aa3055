"""``train.precision``: fp32 by default (run ids unchanged), tf32 and bf16 as opt-ins that
enter the run id; the step loop runs with the requested kernels and evaluation in float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from landscape.config import SearchConfig, load_config
from landscape.errors import ConfigError
from landscape.search.profiling import StepHook
from landscape.search.runner import load_dataset
from landscape.search.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def _cfg(precision: str, **extra) -> SearchConfig:
    overrides = {"train.epochs": 2, "model.hidden": [32, 32], "method.density": 0.3, **extra}
    if precision != "fp32":
        overrides["train.precision"] = precision
    return load_config(ROOT / "configs/digits_mlp_edge_popup.yaml", overrides)


class _Flags(StepHook):
    """Records the float32 kernel flags and the forward dtype seen inside the step loop."""

    def __init__(self) -> None:
        self.flags: set[tuple[bool, bool]] = set()
        self.dtypes: set[torch.dtype] = set()

    def steps(self, trainer, epoch):
        self.flags.add((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32))
        layer = trainer.model.masked_layers()[0][1]
        handle = layer.register_forward_hook(lambda mod, inp, out: self.dtypes.add(out.dtype))
        from contextlib import contextmanager

        @contextmanager
        def scope():
            try:
                yield
            finally:
                handle.remove()

        return scope()


def test_default_precision_keeps_run_ids_and_the_others_change_them():
    base = SearchConfig()
    assert base.replace(**{"train.precision": "fp32"}).run_id == base.run_id
    ids = {p: base.replace(**{"train.precision": p}).run_id for p in ("tf32", "bf16")}
    assert len({base.run_id, *ids.values()}) == 3
    assert base.replace(**{"train.precision": "bf16"}).canonical()["train"] == {"precision": "bf16"}


def test_unknown_precision_is_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"train.precision: unknown value 'fp16'.*fp32, tf32, bf16"):
        SearchConfig().replace(**{"train.precision": "fp16"})


def _run(cfg: SearchConfig, device: str, hooks=()):
    return Trainer(cfg, load_dataset(cfg.data), 0, [0, 1], device, progress=False, hooks=hooks).run()


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_searches_train_in_bfloat16_and_evaluate_in_float32(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    seen = _Flags()
    bf16 = _run(_cfg("bf16"), device, hooks=[seen])
    fp32 = _run(_cfg("fp32"), device)
    assert seen.dtypes == {torch.bfloat16}
    assert seen.flags == {(False, False)}  # float32 leftovers of a bf16 step stay IEEE
    for rec, ref in zip(bf16.records, fp32.records):
        assert rec["test_acc"] > 0.4  # it learns (chance 0.1), about as well as in float32
        assert abs(rec["test_acc"] - ref["test_acc"]) < 0.1
        assert np.isfinite(rec["final_train_loss"])
    # the rounding changes the trajectory: some kept weight differs, the counts never
    assert any(not np.array_equal(bf16.masks[k], fp32.masks[k]) for k in fp32.masks)
    assert [r["n_kept"] for r in bf16.records] == [r["n_kept"] for r in fp32.records]


def test_tf32_sets_the_kernel_flags_in_the_step_loop_only_and_is_float32_on_the_cpu():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    seen_tf32, seen_fp32 = _Flags(), _Flags()
    tf32 = _run(_cfg("tf32"), "cpu", hooks=[seen_tf32])
    fp32 = _run(_cfg("fp32"), "cpu", hooks=[seen_fp32])
    assert seen_tf32.flags == {(True, True)} and seen_fp32.flags == {(False, False)}
    assert seen_tf32.dtypes == seen_fp32.dtypes == {torch.float32}
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    for k in fp32.masks:  # TF32 exists on CUDA only: on the CPU the same arithmetic
        np.testing.assert_array_equal(tf32.masks[k], fp32.masks[k])
