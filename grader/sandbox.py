"""How the workers that run student code are confined: full isolation when we can, reduced otherwise.

Every worker is forked by the grading's zygote (``grader.zygote``), which this plans how to start.
Full mode (root with namespaces, as on CI and GitHub Actions runners): the zygote runs in mount, PID
and network namespaces of its own (``grader.sandbox_init`` builds them) and sees only a read-only
view of the interpreter, site-packages and the workspace; the grader's files, the hidden suites,
home directories and every shared temp directory are hidden. Each worker it forks gets a private
/tmp, rlimits (CPU, memory, processes, file size) and an unprivileged uid of its own (so per-user
limits such as the process limit bind each worker alone, and workers cannot touch each other);
killing a worker kills every process of its uid.
Reduced mode (a student's laptop): the zygote and its workers are separate processes with a
scrubbed environment and rlimits (via ``prlimit`` where available); killing a worker kills its
process group and every orphan the zygote (a child subreaper) adopted. Reports say which mode
graded them.
"""

from __future__ import annotations

import functools
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import redis

VIEW = "/mnt"
Mode = Literal["full", "reduced"]


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker process tree."""

    cpu_s: int = 300
    memory_mb: int = 1024
    processes: int = 128
    file_mb: int = 16


@dataclass(frozen=True)
class Confinement:
    """Everything needed to start the zygote and its workers.

    ``argv_prefix`` starts the zygote (``python`` and its arguments follow) confined: in full mode
    as root inside the view, so that it can confine each worker it forks, which is the only thing
    it may be used for. ``python``, ``site_dirs`` and ``work_in_view`` are paths as the zygote sees
    them; ``env`` is its whole environment; ``limits`` bound each worker; ``worker_uids``: give each
    worker a fresh uid (full mode).
    """

    mode: Mode
    reason: str
    argv_prefix: tuple[str, ...]
    python: str
    site_dirs: tuple[str, ...]
    work_in_view: Path
    env: dict[str, str] = field(default_factory=dict)
    limits: Limits = Limits()

    @property
    def worker_uids(self) -> bool:
        return self.mode == "full"

    def describe(self) -> str:
        if self.mode == "full":
            return "sandboxed: separate unprivileged process, no network, private files, resource limits"
        return f"reduced sandbox: separate process with resource limits only ({self.reason})"


@functools.lru_cache(maxsize=1)
def full_mode_unavailable() -> str | None:
    """Why full confinement cannot be used here, or None when it can."""
    if os.geteuid() != 0:
        return "not running as root"
    if shutil.which("unshare") is None:
        return "util-linux unshare is not installed"
    if not os.path.isdir(VIEW):
        return f"{VIEW} does not exist"
    probe = subprocess.run(
        ["unshare", "--mount", "--pid", "--net", "--fork", "--kill-child", "--mount-proc", "true"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"namespaces are not available ({probe.stderr.decode(errors='replace').strip()[:200]})"
    return None


FIRST_WORKER_UID, WORKER_UIDS = 200_000, 800_000
# When the trusted process that started the zygote dies (even by SIGKILL: the suites' process at the
# end of its budget, or the grader that started it beside that process), the kernel kills the
# zygote's launcher, and unshare --kill-child then takes the zygote's whole namespace with it.
_DIE_WITH_PARENT: tuple[str, ...] = ("setpriv", "--pdeathsig", "KILL", "--") if shutil.which("setpriv") else ()


def worker_uid(*, taken: Collection[int] = ()) -> int:
    """A fresh unprivileged uid (and gid) for one worker, outside the range of real accounts and ``taken``."""
    while True:
        uid = FIRST_WORKER_UID + secrets.randbelow(WORKER_UIDS)
        if uid in taken:
            continue
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid


def _site_dir() -> str:
    """The site-packages folder that holds redis-py (all the worker needs beyond the stdlib)."""
    return str(Path(redis.__file__).resolve().parents[1])


def plan(
    *,
    work: Path,
    hide: tuple[Path, ...],
    mode: Literal["auto", "full", "reduced"] = "auto",
    limits: Limits = Limits(),
    checked: bool = False,
) -> Confinement:
    """Decide how to confine a worker whose files are in ``work``; ``hide`` lists trusted folders.

    ``mode="full"`` raises ``RuntimeError`` when full confinement is unavailable; ``"auto"``
    falls back to reduced mode and says why. ``checked``: full mode is known to work here (a
    zygote runs in it), so it is not probed again.
    """
    if mode == "reduced":
        why_not: str | None = "reduced mode was requested"
    else:
        why_not = None if checked and mode == "full" else full_mode_unavailable()
    if why_not is None:
        return _full(work=work, hide=hide, limits=limits)
    if mode == "full":
        raise RuntimeError(f"full sandbox unavailable: {why_not}")
    return _reduced(work=work, reason=why_not, limits=limits)


def _full(*, work: Path, hide: tuple[Path, ...], limits: Limits) -> Confinement:
    executable = Path(os.path.realpath(sys.executable))
    prefix = Path(sys.base_prefix).resolve()
    python_in_view = f"{VIEW}/python/{executable.relative_to(prefix)}"
    hidden = [str(p) for p in (*hide, Path("/root"), Path("/home")) if p.is_dir()]
    argv = [
        *_DIE_WITH_PARENT,
        "unshare", "--mount", "--pid", "--net", "--fork", "--kill-child", "--mount-proc", "--",
        sys.executable, "-I", "-m", "grader.sandbox_init",
        "--python-prefix", str(prefix),
        "--site", _site_dir(),
        "--work", str(work),
        *[arg for path in hidden for arg in ("--hide", path)],
        "--",
    ]  # fmt: skip
    env = {
        "PATH": f"{VIEW}/python/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LD_LIBRARY_PATH": f"{VIEW}/python/lib",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return Confinement("full", "", tuple(argv), python_in_view, (f"{VIEW}/site0",), Path(f"{VIEW}/work"), env, limits)


def _reduced(*, work: Path, reason: str, limits: Limits) -> Confinement:
    prefix: tuple[str, ...] = _DIE_WITH_PARENT
    if shutil.which("prlimit"):
        prefix += (
            "prlimit", f"--cpu={limits.cpu_s}", f"--as={limits.memory_mb * 1024 * 1024}",
            f"--fsize={limits.file_mb * 1024 * 1024}", "--core=0", "--",
        )  # fmt: skip
    private_tmp = work / ".tmp"
    private_tmp.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(private_tmp),
        "TMPDIR": str(private_tmp),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return Confinement("reduced", reason, prefix, sys.executable, (), work, env, limits)


def prepare_workspace(work: Path) -> None:
    """Make the workspace (and its folders) readable, not writable, by the unprivileged worker users."""
    work.chmod(0o755)
    for entry in work.iterdir():
        if entry.is_file():
            entry.chmod(0o644)
        elif entry.is_dir() and not entry.is_symlink():
            prepare_workspace(entry)
