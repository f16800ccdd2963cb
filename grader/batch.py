"""Grade a class: many submissions in parallel, resumable, one report per student in REPORTS_DIR.

SOURCE is a folder with one subfolder per student (the subfolder name is the student id), or a
course file whose roster lists the students; their folders are then expected next to it
(``<course dir>/<student_id>/``): fetching them from GitHub is the grading workflow's job, not
the batch's. A student folder may hold ``.grader.json`` = ``{"commit": "...", "received_at":
"<ISO 8601 with offset>"}`` written by whatever fetched it, which must write it after the
checkout (overwriting any file of that name the student committed). Lateness is computed from
``received_at``, never from commit dates or file times; without the file, ``received_at`` is
when a batch first received that content.

Each grading runs in a grading process of its own job slot (``grader.grading_process``: started
once per slot, replaced whenever one fails), which provisions a disposable Redis per grading
(gradings never share a server), so one crashing submission or grading cannot stop the batch. Every
finished report is written atomically the moment it finishes: ``<student_id>.json`` (the
canonical report, with ``student_id``, ``commit`` and ``received_at``) and ``<student_id>.md``;
a submission that cannot be graded gets ``<student_id>.error.txt`` instead. The batch keeps
``.batch/<student_id>.json`` beside them: the content fingerprint (sha256 over the allowlisted
modules), the commit and the receipt time, which let a rerun skip what is already graded.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from grader import assignments, render_markdown
from grader.assignments import ASSIGNMENTS
from grader.course import STUDENT_ID, Course, load_course
from grader.errors import UsageError
from grader.grading import GradeOptions
from grader.grading_process import GradingProcess
from grader.redis_server import REDIS_URL_ENV
from grader.regrade import merge_reports
from grader.report import Report, ReportError, load_json, write_atomic, write_json
from grader.submission import SubmissionError, locate

METADATA_FILE = ".grader.json"
STATE_DIR = ".batch"
CANCEL_GRACE_S = 10.0
CHILD_SLACK_S = 120.0

OutcomeStatus = Literal["graded", "skipped", "unusable", "failed", "missing", "changed", "cancelled"]
STATUS_LABEL: dict[str, str] = {
    "graded": "graded",
    "skipped": "up to date (skipped)",
    "unusable": "unusable submission",
    "failed": "grader failed",
    "missing": "missing submission",
    "changed": "changed since graded: not regraded",
    "cancelled": "not graded (interrupted)",
}


@dataclass(frozen=True)
class Student:
    """One student of the batch; ``name`` is empty without a roster, ``on_roster`` None without one."""

    student_id: str
    folder: Path
    name: str = ""
    on_roster: bool | None = None


@dataclass(frozen=True)
class Outcome:
    """What the batch did for one student. ``report`` is the report now in REPORTS_DIR (if any),
    ``previous`` the one there before this run; ``started``/``finished`` are ``time.monotonic()``."""

    student: Student
    status: OutcomeStatus
    message: str = ""
    report: Report | None = None
    previous: Report | None = None
    started: float = 0.0
    finished: float = 0.0

    @property
    def student_id(self) -> str:
        return self.student.student_id


@dataclass(frozen=True)
class BatchResult:
    """The whole batch: one outcome per student in SOURCE order; ``interrupted`` after Ctrl-C."""

    outcomes: tuple[Outcome, ...]
    interrupted: bool = False
    duration_s: float = 0.0


@dataclass(frozen=True)
class Events:
    """Progress callbacks; ``started`` and ``finished`` may be called from worker threads."""

    planned: Callable[[int, int], None] = lambda to_grade, total: None
    started: Callable[[Student], None] = lambda student: None
    finished: Callable[[Outcome], None] = lambda outcome: None
    message: Callable[[str], None] = lambda text: None


# --- Finding the students ----------------------------------------------------------------------


def students_from(source: Path, *, course: Course | None) -> list[Student]:
    """The students to grade: SOURCE's subfolders, or the roster of the course file SOURCE.

    With ``course`` (``--course``) and a folder SOURCE, roster students without a folder are
    listed too (their folder does not exist) and folders off the roster are marked so.
    Raises ``UsageError`` when SOURCE is neither a folder nor a course file with a roster.
    """
    if not source.exists():
        raise UsageError(f"{source}: no such file or directory")
    if source.is_file():
        if course is not None:
            raise UsageError("give the roster either as SOURCE or with --course, not both")
        course = load_course(source)
        if not course.roster:
            raise UsageError(f"{source}: the course file has no [[roster]] entries to grade")
        return [Student(s.student_id, source.parent / s.student_id, s.name, True) for s in course.roster]
    folders = sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))
    roster = {s.student_id: s for s in course.roster} if course is not None and course.roster else None
    if roster is None:
        return [Student(p.name, p) for p in folders]
    students = [Student(s.student_id, source / s.student_id, s.name, True) for s in roster.values()]
    students += [Student(p.name, p, "", False) for p in folders if p.name not in roster]
    return students


# --- Submission identity: fingerprint, metadata, state -------------------------------------------


def fingerprint(folder: Path) -> str:
    """sha256 over the five allowlisted module files of ``folder`` (absence and symlinks count)."""
    digest = hashlib.sha256()
    for assignment in ASSIGNMENTS:
        path = folder / assignment.filename
        digest.update(assignment.filename.encode() + b"\0")
        if path.is_symlink():
            digest.update(b"symlink\0")
        elif path.is_file():
            data = path.read_bytes()
            digest.update(b"file %d\0" % len(data) + data)
        else:
            digest.update(b"absent\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Metadata:
    """A student folder's ``.grader.json``, written by whatever fetched the submission."""

    commit: str = ""
    received_at: str = ""


def read_metadata(folder: Path) -> Metadata:
    """``folder/.grader.json`` validated, or empty ``Metadata`` when absent; ``SubmissionError`` if bad."""
    path = folder / METADATA_FILE
    if not path.exists():
        return Metadata()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubmissionError(f"{path}: not readable JSON: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"commit", "received_at"}:
        raise SubmissionError(f'{path}: expected {{"commit": "...", "received_at": "..."}} and nothing else')
    commit, received = data.get("commit", ""), data.get("received_at", "")
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-fA-F]{0,64}", commit):
        raise SubmissionError(f"{path}: commit must be a hexadecimal commit id, not {commit!r}")
    if not isinstance(received, str):
        raise SubmissionError(f"{path}: received_at must be an ISO 8601 string, not {received!r}")
    if received:
        try:
            when = datetime.fromisoformat(received)
        except ValueError:
            raise SubmissionError(f"{path}: received_at {received!r} is not an ISO 8601 date-time") from None
        if when.tzinfo is None:
            raise SubmissionError(f"{path}: received_at {received!r} has no UTC offset")
        received = when.isoformat(timespec="seconds")
    return Metadata(commit=commit, received_at=received)


@dataclass(frozen=True)
class State:
    """``.batch/<student_id>.json``: the content last received and when, and what the report holds."""

    fingerprint: str = ""
    commit: str = ""
    received_at: str = ""
    graded_fingerprint: str = ""
    graded_commit: str = ""


def _state_path(out: Path, student_id: str) -> Path:
    return out / STATE_DIR / f"{student_id}.json"


def read_state(out: Path, student_id: str) -> State:
    """The recorded state, or an empty one when absent or unreadable (a rerun then regrades)."""
    try:
        data = json.loads(_state_path(out, student_id).read_text(encoding="utf-8"))
        return State(**{key: str(data.get(key, "")) for key in State.__dataclass_fields__})
    except (OSError, ValueError, AttributeError):
        return State()


def _write_state(out: Path, student_id: str, state: State) -> None:
    write_atomic(_state_path(out, student_id), json.dumps(asdict(state), indent=2) + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- Planning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One grading to run: which assignments, and the report to merge the result into (if any)."""

    student: Student
    modules: Path
    assignments: tuple[str, ...]
    state: State
    previous: Report | None
    merge: bool


def _previous_report(out: Path, student_id: str) -> Report | None:
    path = out / f"{student_id}.json"
    if not path.exists():
        return None
    try:
        return load_json(path)
    except ReportError:
        return None


def plan(student: Student, *, out: Path, requested: tuple[str, ...], regrade: bool) -> Task | Outcome:
    """Decide what to do for ``student``: a ``Task`` to grade, or an ``Outcome`` right away.

    Records the receipt of new content in the state file first, so ``received_at`` survives
    a crash. A report describes one submission (content and commit): when the content is the
    one already graded, only missing assignments (all requested ones with ``regrade``) are
    graded and merged in; new content is graded afresh (the requested assignments and any the
    old report had), except that a partial regrade (``--regrade --assignment``) of changed
    content is refused, since it would mix two submissions in one report.
    """
    if not STUDENT_ID.fullmatch(student.student_id):
        return Outcome(
            student,
            "unusable",
            f"{student.folder}: the folder name is not a valid student id (1-64 letters, digits, '.', '_' or '-')",
        )
    if not student.folder.is_dir():
        return Outcome(student, "missing", f"no submission folder {student.folder}")
    try:
        metadata = read_metadata(student.folder)
        modules = locate(student.folder)
        content = fingerprint(modules)
    except SubmissionError as exc:
        return Outcome(student, "unusable", str(exc))
    except OSError as exc:
        return Outcome(student, "unusable", f"{student.folder}: cannot read the submission: {exc}")
    known = read_state(out, student.student_id)
    same_content = (known.fingerprint, known.commit) == (content, metadata.commit)
    received_at = metadata.received_at or (known.received_at if same_content else "") or _now()
    state = replace(known, fingerprint=content, commit=metadata.commit, received_at=received_at)
    if state != known:
        _write_state(out, student.student_id, state)
    previous = _previous_report(out, student.student_id)
    graded = previous is not None and (known.graded_fingerprint, known.graded_commit) == (content, metadata.commit)
    have = {a.name for a in previous.assignments} if previous is not None else set()
    if graded and not regrade:
        missing = tuple(a for a in requested if a not in have)
        if not missing:
            return Outcome(student, "skipped", "already graded for this content", report=previous, previous=previous)
        return Task(student, modules, missing, state, previous, merge=True)
    if graded:
        return Task(student, modules, requested, state, previous, merge=True)
    if regrade and previous is not None and not have <= set(requested):
        return Outcome(
            student,
            "changed",
            "the submission changed since its report (or its record in .batch/ is missing); "
            "run without --regrade to grade the new submission",
            report=previous,
            previous=previous,
        )
    # New content replaces the report: grade everything the old report covered, so nothing is dropped.
    everything = tuple(a for a in assignments.NAMES if a in requested or a in have)
    return Task(student, modules, everything, state, previous, merge=False)


# --- The batch ---------------------------------------------------------------------------------


class Batch:
    """One batch run over REPORTS_DIR ``out``; ``run`` grades, ``cancel`` stops it (thread-safe)."""

    def __init__(
        self, *, out: Path, options: GradeOptions, jobs: int, regrade: bool, events: Events = Events()
    ) -> None:
        if jobs < 1:
            raise UsageError(f"--jobs must be at least 1, not {jobs}")
        if jobs > 1 and options.backend == "auto" and (options.redis_url or os.environ.get(REDIS_URL_ENV)):
            where = "--redis-url" if options.redis_url else f"${REDIS_URL_ENV}"
            raise UsageError(
                f"{where} is set, but concurrent gradings must not share a Redis server: use --jobs 1 with it, "
                f"or drop it (unset {REDIS_URL_ENV}) so that each grading starts its own disposable server"
            )
        self.out = out
        self.options = options
        self.jobs = jobs
        self.regrade = regrade
        self.events = events
        self._lock = threading.Lock()
        self._running: dict[str, GradingProcess] = {}
        self._idle: list[GradingProcess] = []  # one long-lived grading process per job slot, reused
        self._stopping = threading.Event()
        self._killing = threading.Event()

    def run(self, students: Sequence[Student]) -> BatchResult:
        """Grade ``students``; on KeyboardInterrupt stop scheduling and let running gradings finish
        (a second one cancels them cleanly). Returns every student's outcome."""
        started = time.monotonic()
        with self._exclusive():
            return self._run(students, started)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold ``.batch/lock`` so two batches never write one REPORTS_DIR (released even by kill -9)."""
        try:
            (self.out / STATE_DIR).mkdir(parents=True, exist_ok=True)
            handle = (self.out / STATE_DIR / "lock").open("a")
        except OSError as exc:
            raise UsageError(f"{self.out}: cannot write the reports there: {exc}") from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"{self.out}: another grader batch is writing to this folder") from None
            yield

    def _run(self, students: Sequence[Student], started: float) -> BatchResult:
        outcomes: dict[str, Outcome] = {}
        tasks: list[Task] = []
        for student in students:
            try:
                planned = plan(student, out=self.out, requested=self.options.assignments, regrade=self.regrade)
            except OSError as exc:
                raise UsageError(f"{self.out}: cannot record the batch's state there: {exc}") from None
            if isinstance(planned, Task):
                tasks.append(planned)
            else:
                if planned.status == "unusable":
                    self._write_error(planned)
                elif planned.status == "skipped" and planned.report is not None:
                    self._ensure_markdown(planned.report, student.student_id)
                outcomes[student.student_id] = planned
        self.events.planned(len(tasks), len(students))
        for outcome in outcomes.values():
            self.events.finished(outcome)
        interrupted = False
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="grade") as pool:
            pending: set[Future[Outcome]] = {pool.submit(self._grade, task) for task in tasks}
            while pending:
                try:
                    done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        outcome = future.result()
                        outcomes[outcome.student_id] = outcome
                        pending.discard(future)
                        self.events.finished(outcome)
                except KeyboardInterrupt:
                    interrupted = True
                    self.cancel()
        for child in self._idle:
            child.close()
        self._idle.clear()
        not_reached = "the batch was interrupted before this submission was graded"
        ordered = tuple(outcomes.get(s.student_id) or Outcome(s, "cancelled", not_reached) for s in students)
        return BatchResult(ordered, interrupted or self._stopping.is_set(), time.monotonic() - started)

    def cancel(self) -> None:
        """First call: start no new grading. Second call: stop the running ones cleanly too."""
        if not self._stopping.is_set():
            self._stopping.set()
            with self._lock:
                running = len(self._running)
            self.events.message(
                f"Interrupted: no new gradings; waiting for {running} running one(s) to finish "
                "(press Ctrl-C again to cancel them)."
            )
            return
        if not self._killing.is_set():
            self._killing.set()
            self.events.message("Cancelling the running gradings (their reports are not written)...")
            with self._lock:
                for child in self._running.values():
                    child.interrupt()

    def _grade(self, task: Task) -> Outcome:
        student = task.student
        if self._stopping.is_set():
            return Outcome(student, "cancelled", "the batch was interrupted before this submission was graded")
        self.events.started(student)
        started = time.monotonic()
        try:
            return self._grade_in_child(task, started)
        except Exception as exc:  # cannot start the child, a malformed result, cannot write the report
            outcome = Outcome(student, "failed", f"{type(exc).__name__}: {exc}", task.previous, task.previous, started)
            with contextlib.suppress(OSError):
                self._write_error(outcome)
            return replace(outcome, finished=time.monotonic())

    def _grade_in_child(self, task: Task, started: float) -> Outcome:
        student = task.student
        kind, payload = self._run_child(task)
        finished = time.monotonic()
        if kind == "report":
            report = replace(
                Report.from_dict(payload),
                student_id=student.student_id,
                commit=task.state.commit,
                received_at=task.state.received_at,
                submission=str(student.folder),
            )
            if task.merge and task.previous is not None:
                note = ""
                if self.regrade:
                    names = ", ".join(task.assignments)
                    note = f"Regraded {names} on {report.graded_at}; the other assignments keep their earlier results."
                report = merge_reports(task.previous, report, note=note)
            self._write_report(report, task)
            return Outcome(student, "graded", "", report, task.previous, started, finished)
        status: OutcomeStatus = "cancelled" if kind == "cancelled" else "unusable" if kind == "unusable" else "failed"
        outcome = Outcome(student, status, str(payload), task.previous, task.previous, started, finished)
        if status != "cancelled":
            self._write_error(outcome)
        return outcome

    def _run_child(self, task: Task) -> tuple[str, Any]:
        """Grade ``task`` in a grading process: ("report", dict) or (kind, message)."""
        options = self.options
        job = {
            "submission": str(task.modules),
            "assignments": list(task.assignments),
            "redis_url": options.redis_url,
            "backend": options.backend,
            "per_test_timeout_s": options.per_test_timeout_s,
            "budget_s": options.budget_s,
            "suites": str(options.suites),
            "sandbox": options.sandbox,
        }
        with self._lock:
            child = self._idle.pop() if self._idle else GradingProcess()
            self._running[task.student.student_id] = child
        if self._killing.is_set():
            child.interrupt()
        try:
            limit = 2 * options.budget_s + CHILD_SLACK_S  # the grading's own budget, a retry, provisioning
            finished = child.grade(job, timeout=limit, grace=CANCEL_GRACE_S)
        finally:
            with self._lock:
                del self._running[task.student.student_id]
                if child.alive() and not self._killing.is_set():
                    self._idle.append(child)
                else:
                    child.kill()
        if finished.kind == "ended" and self._killing.is_set():
            return "cancelled", "the batch was interrupted while this submission was graded"
        return ("failed" if finished.kind == "ended" else finished.kind), finished.payload

    def _write_report(self, report: Report, task: Task) -> None:
        student_id = task.student.student_id
        write_json(report, self.out / f"{student_id}.json")
        write_atomic(self.out / f"{student_id}.md", render_markdown.render(report))
        state = replace(task.state, graded_fingerprint=task.state.fingerprint, graded_commit=task.state.commit)
        _write_state(self.out, student_id, state)
        (self.out / f"{student_id}.error.txt").unlink(missing_ok=True)

    def _ensure_markdown(self, report: Report, student_id: str) -> None:
        path = self.out / f"{student_id}.md"
        if not path.exists():
            write_atomic(path, render_markdown.render(report))

    def _write_error(self, outcome: Outcome) -> None:
        if not STUDENT_ID.fullmatch(outcome.student_id):
            return  # no file named after an invalid id; the summary reports it
        text = f"{outcome.student_id}: {STATUS_LABEL[outcome.status]} ({_now()})\n\n{outcome.message}\n"
        if outcome.report is not None:
            text += f"\nThe earlier report {outcome.student_id}.json is kept.\n"
        write_atomic(self.out / f"{outcome.student_id}.error.txt", text)


def run_batch(
    *,
    source: Path,
    out: Path,
    options: GradeOptions,
    jobs: int,
    regrade: bool = False,
    course: Course | None = None,
    events: Events = Events(),
) -> BatchResult:
    """Grade every student of ``source`` into ``out`` (see the module docstring for the contract)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    students = [s for s in students_from(source, course=course) if s.folder.resolve() != out.resolve()]
    return Batch(out=out, options=options, jobs=jobs, regrade=regrade, events=events).run(students)
