"""list_runs: one entry per run folder, never failing because of one bad run."""

from __future__ import annotations

import pytest

from landscape.errors import StoreError
from landscape.store import RunStore, list_runs


def test_list_runs_reports_each_run(tmp_path, cfg, layout, random_rows, make_records):
    root = tmp_path / "runs"
    full = RunStore.create(root, cfg, layout)
    full.add_plan([(0, 0), (0, 1)])
    full.write_masks(random_rows(2)[0], make_records([(0, 0), (0, 1)]))
    partial = RunStore.create(root, cfg.replace(**{"method.density": 0.3}), layout)
    partial.add_plan([(0, 0), (0, 1)])
    partial.write_masks(random_rows(1)[0], make_records([(0, 0)]))
    empty = RunStore.create(root, cfg.replace(**{"method.density": 0.2}), layout)
    broken = root / "zz-broken"
    broken.mkdir()
    (broken / "config.json").write_text("{")
    (root / ".tmp-something").mkdir()  # a run being created elsewhere: not listed

    infos = {i.path.name: i for i in list_runs(root)}
    assert set(infos) == {full.run_id, partial.run_id, empty.run_id, "zz-broken"}
    assert (infos[full.run_id].status, infos[full.run_id].n_masks, infos[full.run_id].n_planned) == (
        "complete",
        2,
        2,
    )
    assert infos[partial.run_id].status == "partial" and infos[partial.run_id].n_masks == 1
    assert infos[empty.run_id].status == "empty"
    assert infos[partial.run_id].summary == "edge_popup mlp digits d=0.3"
    bad = infos["zz-broken"]
    assert not bad.ok and bad.error.startswith(f"{broken / 'config.json'}: not valid JSON")


def test_list_runs_refuses_bad_roots(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        list_runs(tmp_path / "nothing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        list_runs(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no runs found"):
        list_runs(tmp_path / "empty")
