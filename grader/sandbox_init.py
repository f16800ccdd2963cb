"""Runs as root inside fresh mount, PID and network namespaces; builds the worker's view, then execs the zygote.

Started by ``grader.sandbox`` as ``unshare --mount --pid --net --fork --kill-child --mount-proc
python -I -m grader.sandbox_init [options] -- ZYGOTE ARGV``. It builds a small read-only view
under ``/mnt`` (the interpreter, site-packages, the submission's workspace), hides the grader's
files and every shared temp directory behind empty tmpfs mounts, and replaces itself with the
zygote (``grader.zygote``), still root and pid 1 of the namespace. The zygote confines each
worker it forks with this module's functions (copied beside it): :func:`private_temp`,
:func:`apply_limits`, :func:`drop_privileges`. Only the standard library is used here.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import signal
import sys
from collections.abc import Sequence

VIEW = "/mnt"
# Top-level folders the worker keeps seeing (read-only to it by permissions): what the interpreter
# and the C library need. Every other top-level folder (/work, /srv, /opt, /var, /home, /root, ...)
# is covered by an empty tmpfs, so no copy of the suites or solutions anywhere on the machine shows.
SYSTEM = frozenset({"usr", "lib", "lib32", "lib64", "libx32", "bin", "sbin", "etc", "dev", "proc"})
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
CLONE_NEWNS = 0x00020000
TEMP_SIZE = "64m"

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc.mount(
        source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def tmpfs(target: str, *, size: str, mode: str = "0755") -> None:
    """Cover ``target`` with an empty tmpfs."""
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")


def bind_readonly(source: str, target: str) -> None:
    """Show ``source`` at ``target``, read-only, without setuid or device files."""
    os.makedirs(target, exist_ok=True)
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(source, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def private_temp() -> None:
    """Move this process into a mount namespace of its own with empty ``/tmp`` and ``/dev/shm``.

    The mounts of the namespace it leaves are private (``unshare --mount`` made them so), so
    nothing mounted here is seen elsewhere: two workers never share a temporary file.
    """
    if _libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    tmpfs("/tmp", size=TEMP_SIZE, mode="1777")
    if os.path.isdir("/dev/shm"):
        tmpfs("/dev/shm", size=TEMP_SIZE, mode="1777")


def apply_limits(*, cpu_s: int, memory_bytes: int, processes: int, file_bytes: int, open_files: int) -> None:
    for limit, value in (
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_AS, memory_bytes),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_FSIZE, file_bytes),
        (resource.RLIMIT_NOFILE, open_files),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent ``parent`` dies; exit now if it already has."""
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no groups and ``no_new_privs``, dying with the current parent."""
    parent = os.getppid()
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError("privileges were not dropped")
    # Changing credentials clears the parent-death signal: set it again, so the worker dies
    # whenever the zygote does.
    die_with_parent(parent)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grader.sandbox_init")
    parser.add_argument("--python-prefix", required=True, help="interpreter prefix, shown at /mnt/python")
    parser.add_argument("--site", action="append", default=[], help="site-packages dirs, shown at /mnt/site<N>")
    parser.add_argument("--work", required=True, help="the worker's workspace, shown at /mnt/work")
    parser.add_argument("--hide", action="append", default=[], help="directories covered by an empty tmpfs")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no zygote command after --")

    tmpfs(VIEW, size="1m")
    bind_readonly(args.python_prefix, f"{VIEW}/python")
    for index, site in enumerate(args.site):
        bind_readonly(site, f"{VIEW}/site{index}")
    bind_readonly(args.work, f"{VIEW}/work")
    for hidden in args.hide:
        if os.path.isdir(hidden):
            tmpfs(hidden, size="1m", mode="0555")
    for entry in sorted(os.listdir("/")):
        path = f"/{entry}"
        if entry not in SYSTEM and path != VIEW and os.path.isdir(path) and not os.path.islink(path):
            tmpfs(path, size=TEMP_SIZE if entry == "tmp" else "1m", mode="1777" if entry == "tmp" else "0555")
    if os.path.isdir("/dev/shm"):
        tmpfs("/dev/shm", size=TEMP_SIZE, mode="1777")
    os.chdir(f"{VIEW}/work")
    # Still root: the zygote confines (limits, a fresh uid) each worker it forks, not itself.
    os.execve(command[0], command, dict(os.environ))
    return 127  # pragma: no cover - execve does not return


if __name__ == "__main__":
    sys.exit(main())
