"""How many CPUs this process may use: the number that sizes the password-hash slots.

Lesson: in a container `os.cpu_count()` says how many cores the *host* has, not how many this
process may use. Linux says that in the cgroup's CPU quota (v2's `cpu.max`, v1's two files);
without a quota, the cores the process may run on are the limit. The default of
`PASSWORD_HASH_CONCURRENCY` is half of it, so that a flood of logins leaves the other half for
everything else.
"""

import os
from pathlib import Path


def cpus_available() -> float:
    """The CPUs this process may use: a container's quota, else the cores it may run on."""
    quota = cgroup_cpu_quota()
    return quota if quota is not None else len(os.sched_getaffinity(0))


def cgroup_cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup's quota allows: v2's `cpu.max` ("quota period"), or v1's two files;
    None without a quota."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()
    except (OSError, ValueError):
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if quota in ("max", "-1"):
        return None
    return int(quota) / int(period)


def half_the_cpus() -> int:
    """The default password-hash concurrency: half the CPUs, at least one."""
    return max(1, int(cpus_available() // 2))
