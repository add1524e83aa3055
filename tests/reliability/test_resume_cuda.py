"""A search killed on CUDA resumes there and ends with the masks of an uninterrupted one.

The CUDA twin of ``test_faults.py`` (which covers every kill point on the CPU): the same
driver, the search on ``--device cuda``, killed while its second epoch checkpoint is renamed
into place, then started again. On one device the resumed search is expected to equal the
uninterrupted one bit for bit: the checkpoint holds scores, optimiser and method state
exactly, and the kernels involved (batched GEMM, ``kthvalue``, reductions) are deterministic
for fixed shapes.
"""

from __future__ import annotations

import pytest
import torch

from tests.reliability.conftest import assert_same_masks, drive, only_run, search_job


@pytest.mark.gpu
def test_a_search_killed_on_cuda_resumes_to_the_uninterrupted_masks(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    kill = {"on": "replace", "file": "*.pt", "nth": 2}
    jobs = [
        search_job(tmp_path / "reference", [0], [0, 1, 2], masks_in_flight=3, device="cuda"),
        search_job(tmp_path / "resumed", [0], [0, 1, 2], kill, masks_in_flight=3, device="cuda"),
        search_job(tmp_path / "resumed", [0], [0, 1, 2], masks_in_flight=3, device="cuda"),
    ]
    reference, killed, resumed = drive(tmp_path, jobs)
    assert reference["ended"] == "ok" and reference["done"] == 3, reference
    assert killed["ended"] == "killed", killed
    assert resumed["ended"] == "ok" and resumed["done"] == 3, resumed
    store = only_run(tmp_path / "resumed")
    assert not list((store.path / "checkpoints").glob("*.pt"))  # the checkpoint was used up
    assert_same_masks(store, only_run(tmp_path / "reference"))
