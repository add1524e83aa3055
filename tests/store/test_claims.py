"""Claims and locks: exclusive creation, ownership, heartbeats, breaking stale claims."""

from __future__ import annotations

import os
import threading
import time

import pytest

from landscape.errors import StoreError
from landscape.store.claims import (
    break_stale,
    claim,
    file_lock,
    is_stale,
    make_owner,
    read_claim,
    refresh,
    release,
)


def _age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_only_one_owner_wins(tmp_path):
    path = tmp_path / "job.claim"
    a, b = make_owner("a"), make_owner("b")
    assert a != b
    assert claim(path, a, stale_after_s=60)
    assert not claim(path, b, stale_after_s=60)
    assert claim(path, a, stale_after_s=60)  # holding it already counts as holding it
    assert read_claim(path)["owner"] == a
    assert not release(path, b) and path.exists()
    assert release(path, a) and not path.exists()
    assert claim(path, b, stale_after_s=60)


def test_stale_claim_is_broken_and_taken(tmp_path):
    path = tmp_path / "job.claim"
    dead, alive = make_owner("killed"), make_owner("new")
    assert claim(path, dead, stale_after_s=60)
    _age(path, 120)  # the owner stopped heartbeating two minutes ago
    assert is_stale(path, 60)
    assert claim(path, alive, stale_after_s=60)
    assert read_claim(path)["owner"] == alive
    assert not refresh(path, dead)  # the killed owner learns it lost the claim
    assert not [p for p in tmp_path.iterdir() if p.name != "job.claim"]


def test_heartbeat_keeps_a_claim_fresh(tmp_path):
    path = tmp_path / "job.claim"
    owner = make_owner()
    claim(path, owner, stale_after_s=60)
    _age(path, 120)
    assert refresh(path, owner)
    assert not is_stale(path, 60)
    assert not claim(path, make_owner(), stale_after_s=60)


def test_only_one_of_many_breakers_wins(tmp_path):
    path = tmp_path / "job.claim"
    claim(path, make_owner("killed"), stale_after_s=1)
    _age(path, 100)
    owners = [make_owner(str(i)) for i in range(8)]
    results = {}
    barrier = threading.Barrier(len(owners))

    def contend(owner):
        barrier.wait()
        results[owner] = claim(path, owner, stale_after_s=1)

    threads = [threading.Thread(target=contend, args=(o,)) for o in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o, won in results.items() if won]
    assert len(winners) == 1
    assert read_claim(path)["owner"] == winners[0]


def test_breaking_a_fresh_claim_puts_it_back(tmp_path):
    path = tmp_path / "job.claim"
    owner = make_owner()
    claim(path, owner, stale_after_s=60)
    assert not break_stale(path, 60)
    assert read_claim(path)["owner"] == owner


def test_file_lock_excludes_and_times_out(tmp_path):
    lock = tmp_path / ".lock"
    counter = {"value": 0, "inside": 0, "overlap": False}

    def work():
        for _ in range(30):
            with file_lock(lock):
                counter["inside"] += 1
                counter["overlap"] |= counter["inside"] > 1
                value = counter["value"]
                time.sleep(0.0005)
                counter["value"] = value + 1
                counter["inside"] -= 1

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter["value"] == 90 and not counter["overlap"]
    assert not lock.exists()
    claim(lock, make_owner("holder"), stale_after_s=60)
    with (
        pytest.raises(StoreError, match=r"\.lock: lock held by another process"),
        file_lock(lock, timeout_s=0.05),
    ):
        pass


def test_file_lock_breaks_a_lock_left_by_a_killed_process(tmp_path):
    lock = tmp_path / ".lock"
    claim(lock, make_owner("killed"), stale_after_s=60)
    _age(lock, 100)
    with file_lock(lock, stale_after_s=60, timeout_s=1):
        assert read_claim(lock)["owner"].endswith(":lock")


def test_a_requeued_slurm_job_takes_over_the_claims_of_its_earlier_run(tmp_path, monkeypatch):
    """Slurm runs one instance of a job at a time, so a claim left by an earlier run of the same
    job (a lower restart count) is dead wherever that run was, and taken over at once."""
    import json

    monkeypatch.setenv("SLURM_JOB_ID", "4711")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    earlier = {"owner": "node7:123:abc", "host": "node7", "pid": 123, "claimed_at": time.time()}
    cases = {
        "earlier-run": {**earlier, "slurm_job": "4711", "slurm_restarts": 0},
        "this-run": {**earlier, "slurm_job": "4711", "slurm_restarts": 1},
        "other-job": {**earlier, "slurm_job": "4712", "slurm_restarts": 0},
        "no-job": earlier,
    }
    for name, record in cases.items():
        (tmp_path / name).write_text(json.dumps(record))
    me = make_owner("requeued")
    taken = {name: claim(tmp_path / name, me, stale_after_s=1800) for name in cases}
    assert taken == {"earlier-run": True, "this-run": False, "other-job": False, "no-job": False}
    # the new claim records the job and its restart count for the next run
    mine = read_claim(tmp_path / "earlier-run")
    assert (mine["owner"], mine["slurm_job"], mine["slurm_restarts"]) == (me, "4711", 1)


def test_claims_outside_slurm_carry_no_job(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert claim(tmp_path / "c", make_owner(), stale_after_s=60)
    assert "slurm_job" not in read_claim(tmp_path / "c")


def test_a_claimer_killed_while_claiming_leaves_no_claim_behind(tmp_path):
    """Killed after writing its owner record but before the claim appears: the next search
    takes the claim at once instead of skipping the mask as busy until it goes stale."""
    path = tmp_path / "w0-s0"
    pid = os.fork()
    if pid == 0:  # the claimer dies at the last step, as a SIGKILL there would leave it
        os.link = lambda *args, **kwargs: os._exit(0)
        claim(path, make_owner("killed"), stale_after_s=3600)
        os._exit(1)
    os.waitpid(pid, 0)
    assert not path.exists()
    assert claim(path, make_owner("restart"), stale_after_s=3600)
    assert read_claim(path)["owner"].endswith(":restart")


def test_a_claim_is_never_seen_without_its_owner_record(tmp_path):
    path = tmp_path / "w0-s0"
    assert claim(path, make_owner("a"), stale_after_s=60)
    assert read_claim(path)["pid"] == os.getpid()
    assert [p.name for p in tmp_path.iterdir()] == ["w0-s0"]  # the draft is gone
