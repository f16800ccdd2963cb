"""One grading run's sandbox: a restricted Redis user, a tracing proxy and confined workers.

The hidden suites' trusted process owns this session. Student modules are imported and called
only inside a worker, one worker per assignment so that one module cannot change another's
behaviour; the worker reaches Redis only through the trusted proxy (which records
the command trace) and only as a Redis user that cannot run admin, dangerous, scripting or
blocking commands. Workers are forked by one confined zygote (``grader.zygote``): the grader starts
it beside a suites' process it spawns (:func:`zygote_booted_early`), so that it boots while pytest
starts, and hands it over; otherwise the session starts it, and its boot overlaps test collection.
It is started again should it die. A worker that times out, crashes or exits is killed with
everything it started, and the next test gets a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

import redis

from grader.assignments import Assignment
from grader.redis_proxy import TracingProxy
from grader.redis_server import CLIENT_LIMITS
from grader.rpc import (
    RemoteError,
    RemoteModule,
    WorkerDied,
    WorkerError,
    WorkerProcess,
    WorkerTimeout,
    reap_group,
    start_worker,
)
from grader.sandbox import Confinement, Mode, plan, prepare_workspace, worker_uid
from grader.submission import Implementation, ModuleBroken, ModuleMissing, ModuleProblem
from grader.zygote_client import (
    CLOSE_TIMEOUT_S,
    SCRIPTS_DIR,
    ZYGOTE_SUPPORTED,
    ZygoteProcess,
    install_scripts,
    launch_zygote,
)

STUDENT_USER_PREFIX = "student-"
# What student code may not run: server administration, anything dangerous (KEYS, FLUSHALL,
# DEBUG, ...), Lua and functions, commands that block the server or a connection, pub/sub.
STUDENT_CATEGORIES = ["+@all", "-@admin", "-@dangerous", "-@scripting", "-@blocking", "-@pubsub"]
STUDENT_DENIED = ["-keys", "-flushall", "-flushdb", "-config", "-shutdown", "-debug", "-acl", "-monitor"]
STUDENT_DENIED += ["-client|kill"]
MEMORY_LIMIT = "256mb"
IMPORT_TIMEOUT_S = 10.0
REPO_ROOT = Path(__file__).resolve().parents[1]


def hidden_paths(*, rootdir: Path, targets: Sequence[str], results_dir: Path | None) -> tuple[Path, ...]:
    """What a worker must not see: the grader, the results, and the suites wherever they live."""
    suites = [rootdir.resolve(), *(Path(target.split("::")[0]).resolve().parent for target in targets)]
    return tuple(dict.fromkeys(p for p in (REPO_ROOT, results_dir, *suites) if p is not None))


@dataclass(frozen=True)
class ZygoteHandoff:
    """A zygote the grader started before the suites' process, which takes it over (``--grader-zygote``).

    ``fd``: its control connection, inherited; ``pid``: its launcher's process group; ``mode``: its
    confinement, planned for the workspace ``work``, which already holds the modules.
    """

    fd: int
    pid: int
    mode: Mode
    work: Path

    def option(self) -> str:
        """The value of ``--grader-zygote``."""
        return f"{self.fd}:{self.pid}:{self.mode}:{self.work}"

    @classmethod
    def parse(cls, value: str) -> ZygoteHandoff:
        """The handoff an ``--grader-zygote`` value describes; ValueError when malformed."""
        fd, pid, mode, work = value.split(":", 3)
        if mode not in get_args(Mode):
            raise ValueError(f"unknown sandbox mode {mode!r}")
        return cls(int(fd), int(pid), cast(Mode, mode), Path(work))


def fill_workspace(work: Path, modules: Path) -> None:
    """Copy the student modules and the zygote's scripts into ``work``, readable by the workers."""
    for module in modules.glob("*.py"):
        shutil.copyfile(module, work / module.name)
    install_scripts(work)
    prepare_workspace(work)


@contextlib.contextmanager
def zygote_booted_early(
    *, modules: Path, hide: tuple[Path, ...], mode: Literal["auto", "full", "reduced"], scratch: Path
) -> Iterator[ZygoteHandoff | None]:
    """Start a grading's zygote before its suites' process, so that it boots while pytest starts.

    Yields the handoff to pass on (its descriptor goes in ``pass_fds``), or None where no zygote can be
    started here (the suites' process then starts its own, and reports why if it cannot). On exit
    the zygote is reaped, and killed if the suites' process left it running. ``scratch``: a
    trusted folder for the workspace and the zygote's output.
    """
    started: tuple[subprocess.Popen[bytes], socket.socket, ZygoteHandoff] | None = None
    if ZYGOTE_SUPPORTED:
        try:
            work = Path(tempfile.mkdtemp(prefix="grader-worker-", dir=scratch))
            fill_workspace(work, modules)
            confinement = plan(work=work, hide=hide, mode=mode)
            output = scratch / "zygote-0"
            process, sock = launch_zygote(
                confinement=confinement,
                cwd=work,
                stdout=output.with_suffix(".stdout"),
                stderr=output.with_suffix(".stderr"),
            )
            started = process, sock, ZygoteHandoff(sock.fileno(), process.pid, confinement.mode, work)
        except (OSError, RuntimeError):
            started = None
    if started is None:
        yield None
        return
    process, sock, handoff = started
    try:
        yield handoff
    finally:
        sock.close()  # should the suites' process have died, the zygote now reads the end of its requests
        reap_group(process, timeout=CLOSE_TIMEOUT_S)


def describe_remote_import_error(error: RemoteError, filename: str) -> str:
    """A student-facing one-liner for a module that failed to import in the worker."""
    kind = (error.type or "Exception").rsplit(".", 1)[-1]
    line = f" line {error.line}" if error.line else ""
    if kind in {"SyntaxError", "IndentationError", "TabError"}:
        return f"{filename}{line}: {kind}: {error.message}"
    detail = f": {error.message}" if error.message else ""
    return f"{filename}{line}: importing it raised {kind}{detail}"


class SandboxSession:
    """Owns the worker, proxy and Redis user for one pytest run; see the module docstring."""

    def __init__(
        self,
        *,
        admin_url: str,
        modules: Path,
        hide: tuple[Path, ...],
        mode: Literal["auto", "full", "reduced"],
        handoff: ZygoteHandoff | None = None,
    ) -> None:
        self._admin_url = admin_url
        self._modules = modules
        self._handoff = handoff
        self._user = STUDENT_USER_PREFIX + secrets.token_hex(4)
        self._password = secrets.token_urlsafe(24)
        self._trusted_dir = Path(tempfile.mkdtemp(prefix="grader-trusted-"))
        self._work = handoff.work if handoff is not None else Path(tempfile.mkdtemp(prefix="grader-worker-"))
        # The proxy logs in as the student user for the worker: the worker never holds a password and
        # cannot become anyone else (a fresh connection, AUTH default, HELLO AUTH are all refused).
        self._proxy = TracingProxy(
            upstream=admin_url, listen_path=self._work / "redis.sock", auth=(self._user, self._password)
        )
        full = handoff is not None and handoff.mode == "full"  # known to work: the zygote handed over runs in it
        self._confinement: Confinement = plan(work=self._work, hide=hide, mode="full" if full else mode, checked=full)
        # Each assignment gets a worker of its own, so one module cannot touch another; the next
        # assignment's worker boots in the background while this one's tests run.
        self._worker: WorkerProcess | None = None
        self._worker_assignment = ""
        self._spare: tuple[str, WorkerProcess] | None = None
        self._zygote: ZygoteProcess | None = None
        self._zygotes = 0
        self._spawned = 0
        self._uids: set[int] = set()
        self._order: list[str] = []
        self._imported: dict[str, list[str]] = {}
        self._broken: dict[str, ModuleProblem] = {}
        self.client_names: dict[int, str] = {}

    @property
    def confinement(self) -> Confinement:
        return self._confinement

    def start(self) -> None:
        """Start the zygote (or take over the one handed over), create the Redis user, start the proxy."""
        handoff = self._handoff
        if handoff is not None and handoff.mode == self._confinement.mode:
            sock = socket.socket(fileno=handoff.fd)
            sock.set_inheritable(False)
            self._zygote = ZygoteProcess.adopt(confinement=self._confinement, sock=sock, pid=handoff.pid)
        else:
            if handoff is not None:  # planned otherwise here: its own zygote, for a consistent sandbox
                os.close(handoff.fd)
            fill_workspace(self._work, self._modules)
            if ZYGOTE_SUPPORTED:  # first: it boots while the rest is set up and the tests are collected
                self._zygote = self._start_zygote()
        try:
            self._create_redis_user()
            self._proxy.start()
        except BaseException:
            if self._zygote is not None:
                self._zygote.close()
            raise

    def _create_redis_user(self) -> None:
        admin = redis.Redis.from_url(self._admin_url, decode_responses=True)
        try:
            admin.acl_setuser(
                self._user,
                enabled=True,
                reset=True,
                passwords=[f"+{self._password}"],
                keys=["*"],
                categories=STUDENT_CATEGORIES,
                commands=STUDENT_DENIED,
            )
            admin.config_set("client-output-buffer-limit", CLIENT_LIMITS[1])  # a server given by URL too
            admin.config_set("client-query-buffer-limit", CLIENT_LIMITS[3])
            if admin.config_get("maxmemory").get("maxmemory") == "0":
                admin.config_set("maxmemory", MEMORY_LIMIT)
                admin.config_set("maxmemory-policy", "noeviction")
        finally:
            admin.close()

    def close(self) -> None:
        """Kill the workers and the zygote, stop the proxy, remove the Redis user and every temporary file.

        When it returns, no process that student code started is left.
        """
        self.kill_worker()
        if self._spare is not None:
            self._spare[1].kill()
            self._spare = None
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
        self._proxy.stop()
        try:
            admin = redis.Redis.from_url(self._admin_url, decode_responses=True, socket_timeout=2)
            try:
                admin.acl_deluser(self._user)
            finally:
                admin.close()
        except redis.RedisError:
            pass  # the server is gone; nothing left to clean there
        shutil.rmtree(self._work, ignore_errors=True)
        shutil.rmtree(self._trusted_dir, ignore_errors=True)

    def trace(self) -> Any:
        """The proxy's ``trace()`` context manager: what the worker sent, by round trip."""
        return self._proxy.trace()

    def kill_worker(self) -> None:
        """Kill the worker and everything it started; the next test starts a fresh one."""
        if self._worker is not None:
            self._worker.kill()
            self._worker = None
            self._imported.clear()
            self._proxy.drop_clients()

    def plan(self, order: list[str]) -> None:
        """The assignments in the order their tests will run, so the next worker can boot early."""
        self._order = order

    def _start_zygote(self) -> ZygoteProcess:
        """Start a zygote; it boots (Python, redis-py) in the background, and forks once it is ready."""
        self._zygotes += 1
        return ZygoteProcess(
            confinement=self._confinement,
            cwd=self._work,
            stdout=self._trusted_dir / f"zygote-{self._zygotes}.stdout",
            stderr=self._trusted_dir / f"zygote-{self._zygotes}.stderr",
        )

    def _spawn(self, assignment: str) -> WorkerProcess:
        """Fork a worker from the zygote (a new zygote if it died); raises WorkerDied if that fails."""
        self._spawned += 1
        # Fresh files per worker: a flood from one module (capped by the file-size limit)
        # must not kill a later module's worker that prints a line.
        stdout = self._trusted_dir / f"{assignment}-{self._spawned}.stdout"
        stderr = self._trusted_dir / f"{assignment}-{self._spawned}.stderr"
        c = self._confinement
        if not ZYGOTE_SUPPORTED and not c.worker_uids:  # reduced mode off Linux: one interpreter per worker
            worker_script = c.work_in_view / SCRIPTS_DIR / "worker.py"
            return start_worker(
                python=c.python,
                worker_script=worker_script,
                modules=c.work_in_view,
                argv_prefix=c.argv_prefix,
                site_dirs=c.site_dirs,
                env=c.env,
                cwd=self._work,
                stdout=stdout,
                stderr=stderr,
            )
        if self._zygote is None or not self._zygote.alive():
            if self._zygote is not None:
                self._zygote.close()
            self._zygote = self._start_zygote()
        uid = None
        if c.worker_uids:
            uid = worker_uid(taken=self._uids)
            self._uids.add(uid)
        return self._zygote.start_worker(uid=uid, stdout=stdout, stderr=stderr)

    def _ensure_worker(self, assignment: str) -> WorkerProcess:
        if self._worker is not None and (not self._worker.alive() or self._worker_assignment != assignment):
            self.kill_worker()
        if self._worker is None:
            spare, self._spare = self._spare, None
            if spare is not None and spare[0] == assignment:
                worker = spare[1]
            else:
                if spare is not None:
                    spare[1].kill()
                worker = self._spawn(assignment)
            try:
                worker.hello(f"unix://{self._confinement.work_in_view / 'redis.sock'}")
            except BaseException:
                worker.kill()
                raise
            self._worker, self._worker_assignment = worker, assignment
            self._boot_next(after=assignment)
        return self._worker

    def _boot_next(self, *, after: str) -> None:
        """Start the worker of the assignment whose tests come next, while this one's tests run."""
        upcoming = self._order[self._order.index(after) + 1 :] if after in self._order else []
        following = next((a for a in upcoming if a not in self._broken), None)
        if following is not None and (self._work / f"{following}.py").is_file():
            with contextlib.suppress(WorkerError):  # no spare: the worker is forked when it is needed
                self._spare = (following, self._spawn(following))

    def implementation(self, assignment: Assignment, client_name: Callable[[object], str]) -> Implementation:
        """The assignment's module, imported in the worker; ``ModuleProblem`` when it cannot be used."""
        if assignment.name in self._broken:
            raise self._broken[assignment.name]
        if not (self._work / assignment.filename).is_file():
            raise ModuleMissing(f"{assignment.filename} is missing from the submission")
        worker = self._ensure_worker(assignment.name)
        if assignment.name not in self._imported:
            try:
                self._imported[assignment.name] = worker.import_module(assignment.name, timeout=IMPORT_TIMEOUT_S)
            except RemoteError as error:
                self._broken[assignment.name] = ModuleBroken(describe_remote_import_error(error, assignment.filename))
            except WorkerTimeout:
                self.kill_worker()
                self._broken[assignment.name] = ModuleBroken(
                    f"{assignment.filename}: importing it did not finish within {IMPORT_TIMEOUT_S:g} s"
                )
            except WorkerDied:
                self.kill_worker()
                self._broken[assignment.name] = ModuleBroken(
                    f"{assignment.filename}: importing it ended the process (sys.exit, os._exit or a crash)"
                )
            except BaseException:  # the test's own timeout fired while the import still ran
                self.kill_worker()
                self._broken[assignment.name] = ModuleBroken(
                    f"{assignment.filename}: importing it did not finish within the time for a test"
                )
                raise
            if assignment.name in self._broken:
                raise self._broken[assignment.name]
        module = RemoteModule(worker, assignment.name, self._imported[assignment.name], client_name)
        return Implementation(module, assignment)
