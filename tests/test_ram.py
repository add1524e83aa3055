"""The RAM a process may take: MemAvailable, or less under a cgroup limit (a Slurm job's --mem)."""

from __future__ import annotations

from landscape.ram import available_ram


def _machine(root, available_kb=8_000_000, cgroup="0::/\n"):
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "meminfo").write_text(f"MemTotal: 16000000 kB\nMemAvailable: {available_kb} kB\n")
    (root / "proc" / "self" / "cgroup").write_text(cgroup)


def _limit(folder, limit, usage, files=("memory.max", "memory.current")):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / files[0]).write_text(f"{limit}\n")
    (folder / files[1]).write_text(f"{usage}\n")


def test_without_a_limit_it_is_mem_available(tmp_path):
    _machine(tmp_path)
    _limit(tmp_path / "sys" / "fs" / "cgroup", "max", 123)
    assert available_ram(tmp_path) == 8_000_000 * 1024


def test_a_cgroup_v2_limit_binds_from_the_process_group_or_a_parent(tmp_path):
    _machine(tmp_path, cgroup="0::/system.slice/job_7/step_0\n")
    cg = tmp_path / "sys" / "fs" / "cgroup"
    _limit(cg / "system.slice" / "job_7" / "step_0", "max", 10)
    _limit(cg / "system.slice" / "job_7", 4 * 2**30, 3 * 2**30)  # the job's --mem=4G, 3 GiB used
    assert available_ram(tmp_path) == 2**30
    _limit(cg / "system.slice" / "job_7", 4 * 2**30, 5 * 2**30)  # over its limit: nothing left
    assert available_ram(tmp_path) == 0


def test_a_cgroup_v1_memory_limit(tmp_path):
    _machine(tmp_path, cgroup="9:memory:/docker/abc\n1:name=systemd:/\n")
    files = ("memory.limit_in_bytes", "memory.usage_in_bytes")
    _limit(tmp_path / "sys" / "fs" / "cgroup" / "memory" / "docker" / "abc", 2**31, 2**30, files)
    assert available_ram(tmp_path) == 2**30
    # v1 writes a huge number where no limit is set
    _limit(tmp_path / "sys" / "fs" / "cgroup" / "memory" / "docker" / "abc", 2**63 - 4096, 2**30, files)
    assert available_ram(tmp_path) == 8_000_000 * 1024


def test_unknown_without_proc(tmp_path):
    assert available_ram(tmp_path) is None
