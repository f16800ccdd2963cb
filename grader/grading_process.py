"""Long-lived grading processes: each grades one submission at a time, sent to it as a line of JSON.

A batch keeps one such process per job slot, so a class of fifty pays for an interpreter and the
grader's imports once per slot rather than once per student; each one keeps a warm fork server
(``grader.suite_process``) from which every grading's pytest process is forked. The process only orchestrates: it
provisions a disposable Redis and runs the hidden suites in their own process (``grader.grading``),
so no student code ever runs in it and it can safely grade the next submission. Anything that
goes wrong with it (a crash, a timeout, an interrupt) ends it; the batch then starts a fresh one.

Protocol: the parent writes one job per line on the child's stdin; the child answers one result
per line on its stdout, ``{"kind": "report", "report": {...}}`` or ``{"kind": "unusable" |
"failed", "message": "..."}``. Closing stdin ends the child. SIGINT stops the running grading
cleanly (its suites' process group killed, its Redis stopped) and ends the child with status 130.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from grader.errors import GraderFailure
from grader.grading import GradeOptions, grade
from grader.submission import SubmissionError
from grader.suite_process import ForkServer

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
ERROR_TAIL_LINES = 20
ERROR_TAIL_BYTES = 16_384
CLOSE_WAIT_S = 5.0
_MAIN = "from grader.grading_process import main; main()"


@dataclass(frozen=True)
class Finished:
    """What one job gave: ``kind`` is report, unusable or failed (with ``payload`` the report dict or
    the message), or ``ended``: the process ended without a result (``payload`` says how)."""

    kind: str
    payload: Any


class GradingProcess:
    """A child process that grades jobs one at a time; not thread-safe (one job at a time)."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process; closed in kill)
        self._proc = subprocess.Popen(
            [sys.executable, "-P", "-c", _MAIN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=True,  # a terminal Ctrl-C reaches the batch only; it decides
        )
        self._buffer = b""

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def grade(self, job: dict[str, Any], *, timeout: float, grace: float) -> Finished:
        """Send ``job`` and wait up to ``timeout`` seconds for its result.

        After ``timeout`` the grading is interrupted (SIGINT), given ``grace`` seconds to clean
        up, then the process group is killed; the result is then ``ended``.
        """
        errors_from = self._stderr_size()
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(job).encode() + b"\n")
            stdin.flush()
        except OSError:
            return self._ended(errors_from)
        try:
            line = self._read_line(stdout, deadline=time.monotonic() + timeout)
        except TimeoutError:
            self.interrupt()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(grace)
            self.kill()
            return Finished("ended", f"the grading did not finish within {timeout:g} s and was stopped")
        if line is None:
            return self._ended(errors_from)
        try:
            result = json.loads(line)
            kind = str(result["kind"])
            return Finished(kind, result["report"] if kind == "report" else str(result["message"]))
        except (ValueError, KeyError, TypeError):
            self.kill()
            return Finished("ended", "the grading process answered something that is not a result")

    def interrupt(self) -> None:
        """SIGINT: the running grading stops cleanly and the process ends."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._proc.pid, signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL the process group and reap it."""
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
        self._close_pipes()

    def close(self) -> None:
        """Let an idle process end on its own (closed stdin), killing it if it does not."""
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(CLOSE_WAIT_S)
        self.kill()

    def _read_line(self, stream: IO[bytes], *, deadline: float) -> bytes | None:
        """The next line, or None at EOF; TimeoutError at the deadline."""
        fd = stream.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise TimeoutError
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _stderr_size(self) -> int:
        return os.fstat(self._stderr.fileno()).st_size

    def _ended(self, errors_from: int) -> Finished:
        """The process died mid-job: its exit status and the tail of what it wrote to stderr."""
        code = self._proc.wait()
        size = self._stderr_size() - errors_from
        start = errors_from + max(0, size - ERROR_TAIL_BYTES)
        text = os.pread(self._stderr.fileno(), ERROR_TAIL_BYTES, start).decode(errors="replace")
        self._close_pipes()
        tail = "\n".join(text.splitlines()[-ERROR_TAIL_LINES:])
        return Finished("ended", f"the grading process exited with code {code} and no result:\n{tail}")

    def _close_pipes(self) -> None:
        for stream in (self._proc.stdin, self._proc.stdout, self._stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


# --- The child's side ---------------------------------------------------------------------------


def main() -> None:
    """Grade the jobs read from stdin, one result line each on stdout, until stdin closes.

    Anything else written to stdout goes to stderr. SIGINT (from the batch, or from the
    parent-watch thread when the batch process dies) ends the process with status 130.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the batch ignores SIGINT
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    parent = os.getppid()

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        with ForkServer() as launcher:
            for line in sys.stdin:
                if line.strip():
                    results.write(json.dumps(grade_job(json.loads(line), launcher=launcher)) + "\n")
                    results.flush()
    except KeyboardInterrupt:
        sys.exit(130)


def grade_job(job: dict[str, Any], *, launcher: ForkServer | None = None) -> dict[str, Any]:
    """One job's result line: the report, or why there is none."""
    options = GradeOptions(
        assignments=tuple(job["assignments"]),
        redis_url=job["redis_url"],
        backend=job["backend"],
        per_test_timeout_s=job["per_test_timeout_s"],
        budget_s=job["budget_s"],
        suites=Path(job["suites"]),
        sandbox=job["sandbox"],
    )
    try:
        report = grade(Path(job["submission"]), options=options, launcher=launcher)
        return {"kind": "report", "report": report.to_dict()}
    except SubmissionError as exc:
        return {"kind": "unusable", "message": str(exc)}
    except GraderFailure as exc:
        return {"kind": "failed", "message": str(exc)}
    except Exception as exc:
        tail = "".join(traceback.format_exception(exc)[-ERROR_TAIL_LINES:])
        return {"kind": "failed", "message": f"unexpected {type(exc).__name__}: {exc}\n{tail}"}
