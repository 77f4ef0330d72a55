"""What walls a sandbox worker in: its bubblewrap command line, a uid no other running
sandbox holds, and a control group that caps the memory and processes of everything it
starts.

The uid matters because RLIMIT_NPROC counts processes per uid: two sandboxes sharing a
uid could exhaust each other's. Uids are leased with a lock file each, held for the
sandbox's life, so a lease ends when its process does, however it ends.

Control groups: cgroup v2 where the memory and pids controllers are delegated to us,
else cgroup v1's memory and pids hierarchies; without either (not root, or a read-only
cgroupfs) the limits are per process only (see ``Limits``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

UID_BASE = 60000
UID_COUNT = 4096
LEASE_DIR = Path("/run/accord/uids")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    memory_mb: int = 1024
    """The whole worker (every process of its jobs) with a control group; else each
    process (RLIMIT_AS)."""
    max_processes: int = 32
    """Processes of the worker's uid; the fallback without a control group allows fewer."""
    max_file_mb: int = 16
    tmp_mb: int = 64
    """Size of the job's /tmp (a tmpfs); /dev/shm gets a quarter of it."""
    fallback_processes: int = 8
    """RLIMIT_NPROC without a control group: memory_mb x fallback_processes is then the
    most a job can hold (8 GB with the defaults)."""


def bwrap_command(limits: Limits) -> list[str]:
    """bubblewrap: fresh namespaces of every kind (no network), PID 1 of its own pid
    namespace, /usr read-only, a read-only root and /dev, sized tmpfs /tmp and /dev/shm
    as the only writable places, an empty environment, no capabilities."""
    tmp = limits.tmp_mb * 1024 * 1024
    return [
        "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--as-pid-1", "--clearenv",
        "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev",
        # shared libraries are found through these (numpy's libblas.so.3 is an
        # alternatives symlink): symlinks and a library index, nothing secret
        "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
        "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
        "--size", str(tmp // 4), "--tmpfs", "/dev/shm",
        "--size", str(tmp), "--tmpfs", "/tmp",
        "--remount-ro", "/dev", "--remount-ro", "/",
        "--chdir", "/tmp", "--setenv", "HOME", "/tmp",
    ]  # fmt: skip


class UidLease:
    """Sandbox uids no other running sandbox on this machine holds (root only)."""

    def __init__(self, count: int) -> None:
        self.uids: list[int] = []
        self._locks: list[IO[str]] = []
        LEASE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
        for uid in range(UID_BASE, UID_BASE + UID_COUNT):
            if len(self.uids) == count:
                return
            handle = open(LEASE_DIR / f"{uid}.lock", "w")  # noqa: SIM115 (held for the lease)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self.uids.append(uid)
            self._locks.append(handle)
        self.release()
        raise OSError(f"no free sandbox uid in {UID_BASE}-{UID_BASE + UID_COUNT - 1}")

    def release(self) -> None:
        for handle in self._locks:
            handle.close()
        self._locks.clear()


def reap_sandbox_orphans(keep: set[int]) -> int:
    """Reap our zombie children that ran under a sandbox uid, except the pids in ``keep``
    (live workers' own processes). An accord process is a subreaper: sandbox processes
    orphaned by a worker, or by another accord process that was killed, come back to it,
    and as zombies they count against their uid's process limit, which a later lease of
    that uid would inherit. Other children are left alone: their owners wait for them."""
    reaped = 0
    for task in Path("/proc/self/task").iterdir():
        children = ""
        with contextlib.suppress(OSError):  # the thread may have ended since
            children = (task / "children").read_text()
        for pid in map(int, children.split()):
            if pid in keep or not _sandbox_zombie(pid):
                continue
            with contextlib.suppress(ChildProcessError):
                reaped += bool(os.waitpid(pid, os.WNOHANG)[0])
    return reaped


def _sandbox_zombie(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uid = int(fields.get("Uid", "-1").split()[0])
    return fields.get("State", "").split()[:1] == ["Z"] and UID_BASE <= uid < UID_BASE + UID_COUNT


def _own_cgroup_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _mounts() -> dict[str, Path]:
    """ "v2" or a v1 controller -> its mount point."""
    found: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, (fstype, _, options) = left.split(), right.split(" ", 2)
        point = Path(fields[4])
        if fstype == "cgroup2":
            found.setdefault("v2", point)
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in ("memory", "pids"):
                    found.setdefault(option, point)
    return found


class Cgroup:
    """One control group per worker: memory (no swap) and a process count."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs

    @classmethod
    def create(cls, name: str, limits: Limits) -> Cgroup | None:
        """A new group, or None where control groups are not available to us (then the
        sandbox says so: its limits are per process)."""
        if os.geteuid() != 0:
            return None
        sweep_stale()
        name = f"{name}-{secrets.token_hex(4)}"  # never an old group's name
        try:
            return cls._create_v2(name, limits) or cls._create_v1(name, limits)
        except OSError as exc:
            log.warning("no control group for a sandbox worker (%s): its limits are per process", exc)
            return None

    @classmethod
    def _create_v2(cls, name: str, limits: Limits) -> Cgroup | None:
        mount, own = _mounts().get("v2"), _own_cgroup_paths().get("")
        if mount is None or own is None:
            return None
        parent = mount / own.lstrip("/")
        if not {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
            return None  # the controllers are not delegated to our children
        group = parent / name
        group.mkdir()
        (group / "memory.max").write_text(str(limits.memory_mb * 1024 * 1024))
        with contextlib.suppress(OSError):
            (group / "memory.swap.max").write_text("0")
        (group / "pids.max").write_text(str(limits.max_processes))
        return cls([group])

    @classmethod
    def _create_v1(cls, name: str, limits: Limits) -> Cgroup | None:
        mounts, own = _mounts(), _own_cgroup_paths()
        if "memory" not in mounts or "pids" not in mounts:
            return None
        memory = mounts["memory"] / own.get("memory", "/").lstrip("/") / name
        pids = mounts["pids"] / own.get("pids", "/").lstrip("/") / name
        memory.mkdir()
        group = cls([memory])
        try:
            limit = str(limits.memory_mb * 1024 * 1024)
            (memory / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):  # swap accounting may be off
                (memory / "memory.memsw.limit_in_bytes").write_text(limit)
            pids.mkdir()
            group.dirs.append(pids)
            (pids / "pids.max").write_text(str(limits.max_processes))
        except OSError:
            group.remove()
            raise
        return group

    def enter(self) -> None:
        """Move the calling process into the group (in a child before exec, as root)."""
        for folder in self.dirs:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        """Remove the group once its processes are gone (they are being killed)."""
        for folder in self.dirs:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


_OWNED = re.compile(r"^accord-(\d+)-")
_swept = False


def sweep_stale() -> None:
    """Remove the empty groups of accord processes that died without cleaning up (once
    per process)."""
    global _swept
    if _swept:
        return
    _swept = True
    mounts, own = _mounts(), _own_cgroup_paths()
    parents = [mounts[k] / own.get(k, "/").lstrip("/") for k in ("memory", "pids") if k in mounts]
    if "v2" in mounts and "" in own:
        parents.append(mounts["v2"] / own[""].lstrip("/"))
    for parent in parents:
        with contextlib.suppress(OSError):
            for entry in parent.iterdir():
                match = _OWNED.match(entry.name)
                if match and entry.is_dir() and not Path(f"/proc/{match[1]}").exists():
                    with contextlib.suppress(OSError):
                        entry.rmdir()
