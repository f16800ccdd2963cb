"""``grader batch``: a class graded in parallel, broken submissions as summary rows, resumable runs,
receipt times, kill -9 and Ctrl-C losing no finished report, and one disposable server per grading."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.batch import fingerprint, read_state, run_batch
from grader.cli import main
from grader.grading import GradeOptions
from grader.mutants import load_mutants, write_mutant_submission
from grader.report import load_json

from .conftest import MUTANTS, ROOT, SOLUTIONS, STUBS

MUTANT = next(m for m in load_mutants(MUTANTS) if m.name == "counter/singular_key_prefix")
FAST = ["--backend", "fake", "--assignment", "counter", "--sandbox", "off"]
RECEIVED = "2026-10-06T22:00:00+02:00"


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # keep rich's table cells on one line for the assertions
    monkeypatch.delenv("REDIS_URL", raising=False)


def make_class(root: Path) -> Path:
    """Seven student folders: solutions, stubs, a mutant, a syntax error, empty, a repository
    layout with fetch metadata, and bad fetch metadata."""
    root.mkdir()
    shutil.copytree(SOLUTIONS, root / "s001")
    shutil.copytree(STUBS, root / "s002")
    write_mutant_submission(MUTANT, solutions=SOLUTIONS, out=root / "s003")
    shutil.copytree(SOLUTIONS, root / "s004")
    (root / "s004" / "counter.py").write_text("def record_pageview(r, page:\n    return 1\n")
    (root / "s005").mkdir()
    shutil.copytree(SOLUTIONS, root / "s006" / "assignments")
    (root / "s006" / "README.md").write_text("my repository\n")
    (root / "s006" / ".grader.json").write_text(json.dumps({"commit": "abc123", "received_at": RECEIVED}))
    shutil.copytree(SOLUTIONS, root / "s007")
    (root / "s007" / ".grader.json").write_text(json.dumps({"received_at": "2026-10-06T22:00:00"}))
    (root / "notes.txt").write_text("not a student\n")
    return root


def mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}


def test_batch_grades_a_class_and_a_rerun_regrades_only_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = make_class(tmp_path / "class"), tmp_path / "reports"
    assert main(["batch", str(source), "--out", str(out), "--jobs", "2", *FAST]) == 0
    printed = capsys.readouterr().out
    assert "7 student(s), 5 to grade." in printed

    assert sorted(p.name for p in out.iterdir()) == [
        ".batch",
        "s001.json",
        "s001.md",
        "s002.json",
        "s002.md",
        "s003.json",
        "s003.md",
        "s004.json",
        "s004.md",
        "s005.error.txt",
        "s006.json",
        "s006.md",
        "s007.error.txt",
    ]
    reports = {p.stem: load_json(p) for p in out.glob("*.json")}
    assert reports["s001"].score == reports["s006"].score == 100
    assert reports["s002"].score == 0
    assert {t.status for t in reports["s002"].tests()} == {"not_attempted"}
    assert 0 < reports["s003"].score < 100  # the mutant loses points
    assert reports["s004"].score == 0
    assert "counter.py line 1: SyntaxError" in reports["s004"].tests()[0].feedback
    for sid, report in reports.items():
        assert report.student_id == sid and [a.name for a in report.assignments] == ["counter"]
        assert report.max_score == 100 and report.complete
        assert report.received_at  # when the batch received it
        assert f"## Redis course: {report.score}/100 points" in (out / f"{sid}.md").read_text()
    assert (reports["s006"].commit, reports["s006"].received_at) == ("abc123", RECEIVED)
    assert reports["s001"].commit == ""
    assert "s005: unusable submission" in (out / "s005.error.txt").read_text()
    assert "none of counter.py" in (out / "s005.error.txt").read_text()
    assert "received_at '2026-10-06T22:00:00' has no UTC offset" in (out / "s007.error.txt").read_text()
    state = read_state(out, "s001")
    assert state.fingerprint == state.graded_fingerprint == fingerprint(source / "s001")
    for row in ("s001", "100/100", "s002", "0/100", "s005", "unusable submission (see s005.error.txt)"):
        assert row in printed
    assert "5 graded, 2 unusable submission" in printed

    # Rerun after losing one report and changing one submission: only those two are graded again.
    before = mtimes(out)
    received = {sid: r.received_at for sid, r in reports.items()}
    (out / "s002.json").unlink()
    (out / "s002.md").unlink()
    shutil.copyfile(SOLUTIONS / "counter.py", source / "s003" / "counter.py")
    time.sleep(1.1)  # a new receipt time would differ from the first one
    assert main(["batch", str(source), "--out", str(out), "--jobs", "2", *FAST]) == 0
    printed = capsys.readouterr().out
    assert "7 student(s), 2 to grade." in printed
    after = mtimes(out)
    assert {name for name in after if after[name] != before.get(name)} == {"s002.json", "s003.json"}
    rerun = {p.stem: load_json(p) for p in out.glob("*.json")}
    assert rerun["s002"].received_at == received["s002"]  # same content: the first receipt time is kept
    assert rerun["s003"].received_at > received["s003"]  # new content: received now
    assert rerun["s003"].score == 100
    assert (out / "s002.md").is_file()
    assert "3 up to date (skipped), 2 graded, 2 unusable submission" in printed


def test_regrade_without_assignment_regrades_everyone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "class"
    shutil.copytree(SOLUTIONS, source / "s001")
    out = tmp_path / "reports"
    assert main(["batch", str(source), "--out", str(out), "--jobs", "1", *FAST]) == 0
    before = mtimes(out)
    assert main(["batch", str(source), "--out", str(out), "--jobs", "1", "--regrade", *FAST]) == 0
    assert mtimes(out)["s001.json"] != before["s001.json"]
    printed = capsys.readouterr().out
    assert "Regrade: 0 of 1 student(s) changed" in printed
    assert len(list(out.glob("regrade-*.csv"))) == 1


def test_roster_source_reports_missing_students(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    course = tmp_path / "course.toml"
    text = (ROOT / "course.toml").read_text()
    course.write_text(text.replace("budget_s = 300", "budget_s = 120"))
    shutil.copytree(SOLUTIONS, tmp_path / "s001")
    (tmp_path / "s003").mkdir()
    out = tmp_path / "reports"
    assert main(["batch", str(course), "--out", str(out), "--jobs", "2", *FAST]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.glob("s*")) == ["s001.json", "s001.md", "s003.error.txt"]
    assert load_json(out / "s001.json").score == 100
    lines = {line.split("│")[1].strip(): line for line in printed.splitlines() if line.count("│") > 3}
    assert "Ada Lovelace" in lines["s001"] and "graded" in lines["s001"]
    assert "Alan Turing" in lines["s002"] and "missing submission" in lines["s002"]
    assert "unusable submission" in lines["s003"]

    # A folder SOURCE with --course: roster students without a folder and folders off the roster.
    (tmp_path / "class").mkdir()
    shutil.copytree(SOLUTIONS, tmp_path / "class" / "s001")
    (tmp_path / "class" / "x999").mkdir()
    args = ["batch", str(tmp_path / "class"), "--out", str(out), "--course", str(course), *FAST]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "missing submission" in printed and "(not on the roster)" in printed


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--redis-url", "redis://localhost:6379/0", "--jobs", "2"], {}, "concurrent gradings must not share"),
        (["--jobs", "2"], {"REDIS_URL": "redis://localhost:6379/0"}, "$REDIS_URL is set, but concurrent"),
        (["--jobs", "0"], {}, "must be at least 1"),
        (["--course", "nope.toml"], {}, "nope.toml: no such course file"),
    ],
)
def test_usage_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    shutil.copytree(SOLUTIONS, tmp_path / "class" / "s001")
    assert main(["batch", str(tmp_path / "class"), "--out", str(tmp_path / "out"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "s001.json").exists()


def test_source_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 2
    assert "absent: no such file or directory" in capsys.readouterr().err
    course = tmp_path / "course.toml"
    course.write_text((ROOT / "course.toml").read_text())
    assert main(["batch", str(course), "--out", str(tmp_path / "out"), "--course", str(course)]) == 2
    assert "either as SOURCE or with --course" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[course]\n")
    assert main(["batch", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert f"{bad}: course.name: missing required key" in capsys.readouterr().err


def test_one_batch_at_a_time_per_reports_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(SOLUTIONS, tmp_path / "class" / "s001")
    (tmp_path / "out" / ".batch").mkdir(parents=True)
    with (tmp_path / "out" / ".batch" / "lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["batch", str(tmp_path / "class"), "--out", str(tmp_path / "out"), *FAST]) == 2
    assert "another grader batch is writing to this folder" in capsys.readouterr().err
    assert not (tmp_path / "out" / "s001.json").exists()


def _descendant_servers(root_pid: int) -> set[int]:
    """Pids of redis/valkey servers that descend from ``root_pid`` (from /proc)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        pid = int(text.split(" ", 1)[0])
        names[pid] = text[text.index("(") + 1 : text.rindex(")")]
        parents[pid] = int(text[text.rindex(")") + 2 :].split()[1])
    found = set()
    for pid, name in names.items():
        if not name.endswith("-server"):
            continue
        ancestor = parents.get(pid, 0)
        while ancestor > 1 and ancestor != root_pid:
            ancestor = parents.get(ancestor, 0)
        if ancestor == root_pid:
            found.add(pid)
    return found


@pytest.mark.real_redis
def test_real_redis_batch_gives_each_grading_its_own_server(tmp_path: Path) -> None:
    source = tmp_path / "class"
    for sid in ("s001", "s002"):
        shutil.copytree(SOLUTIONS, source / sid)
    seen: set[int] = set()
    most_at_once = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal most_at_once
        while not done.is_set():
            alive = _descendant_servers(os.getpid()) - baseline
            seen.update(alive)
            most_at_once = max(most_at_once, len(alive))
            time.sleep(0.05)

    baseline = _descendant_servers(os.getpid())  # e.g. the session's real_redis_url server
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = run_batch(
            source=source,
            out=tmp_path / "reports",
            # "reduced": this test is about servers, not confinement (the full sandbox has its own tests).
            options=GradeOptions(assignments=("counter",), sandbox="reduced"),
            jobs=2,
        )
    finally:
        done.set()
        sampler.join()
    assert [o.status for o in result.outcomes] == ["graded", "graded"]
    for outcome in result.outcomes:
        assert outcome.report is not None and outcome.report.redis.backend == "real"
        assert outcome.report.score == 100 and outcome.report.complete
    first, second = result.outcomes
    assert first.started < second.finished and second.started < first.finished  # they ran concurrently
    assert most_at_once == 2 and len(seen) >= 2  # two servers alive at once: one per grading
    assert _descendant_servers(os.getpid()) - baseline == set()  # and both stopped


@pytest.mark.real_redis
def test_a_given_server_url_grades_one_at_a_time(tmp_path: Path, real_redis_url: str) -> None:
    source = tmp_path / "class"
    shutil.copytree(SOLUTIONS, source / "s001")
    args = ["--redis-url", real_redis_url, "--assignment", "counter", "--sandbox", "reduced"]
    assert main(["batch", str(source), "--out", str(tmp_path / "reports"), *args]) == 0  # no --jobs: 1
    report = load_json(tmp_path / "reports" / "s001.json")
    assert report.score == 100 and "not managed by the grader" in report.redis.description


# --- Killed and interrupted batches ------------------------------------------------------------

# The batch command without the other verbs' imports, so the subprocess starts fast.
ENTRY = (
    "import argparse, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from rich.console import Console\n"
    "from grader.commands import batch\n"
    "parser = argparse.ArgumentParser()\n"
    "batch.add_arguments(parser)\n"
    "sys.exit(batch.run(parser.parse_args(sys.argv[1:]), Console(width=200)))\n"
)


@pytest.fixture
def batch_process(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(source: Path, out: Path, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", ENTRY, str(source), "--out", str(out), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.returncode is None:
            proc.kill()
            proc.communicate()


def _wait_for(predicate: Callable[[], bool], *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            found.add(int(text.split(" ", 1)[0]))
    return found


def _gone(pids: set[int]) -> bool:
    return not any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in pids)


def _state(pid: int) -> str:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "Z"
    return text[text.rindex(")") + 2]


def test_kill_9_keeps_finished_reports_and_the_rerun_completes(
    tmp_path: Path, batch_process: Callable[..., subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "class", tmp_path / "reports"
    for sid in ("s001", "s002", "s003"):
        shutil.copytree(SOLUTIONS, source / sid)
    proc = batch_process(source, out, "--jobs", "1", *FAST)
    _wait_for(lambda: any(out.glob("s*.json")) and bool(_children(proc.pid)))
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("s*.json")}
    assert first and len(first) < 3
    for name in first:
        assert load_json(out / name).score == 100  # complete, valid reports only
    _wait_for(lambda: _gone(workers), timeout=15)  # the orphaned grading stopped itself

    assert main(["batch", str(source), "--out", str(out), "--jobs", "2", *FAST]) == 0
    assert f"3 student(s), {3 - len(first)} to grade." in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("s*.json")) == ["s001.json", "s002.json", "s003.json"]
    assert all(load_json(p).score == 100 for p in out.glob("s*.json"))
    assert {name: (out / name).stat().st_mtime_ns for name in first} == first  # not graded twice


def test_ctrl_c_finishes_running_gradings_and_twice_cancels_them(
    tmp_path: Path, batch_process: Callable[..., subprocess.Popen[str]]
) -> None:
    source = tmp_path / "class"
    for sid in ("s001", "s002", "s003"):
        shutil.copytree(SOLUTIONS, source / sid)

    # Once: no new grading starts, the running one finishes and is kept.
    out = tmp_path / "once"
    proc = batch_process(source, out, "--jobs", "1", *FAST)
    _wait_for(lambda: (out / "s001.json").exists())
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "no new gradings; waiting for" in output and "Interrupted." in output
    graded = sorted(p.name for p in out.glob("s*.json"))
    assert graded in (["s001.json"], ["s001.json", "s002.json"])
    assert not (out / "s003.json").exists() and "not graded (interrupted)" in output

    # Twice: the running grading is cancelled cleanly and leaves no report and no process.
    out = tmp_path / "twice"
    proc = batch_process(source, out, "--jobs", "2", *FAST)
    _wait_for(lambda: len(_children(proc.pid)) == 2)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, output
    assert "Cancelling the running gradings" in output
    assert not list(out.glob("s*.json"))
    assert "3 not graded (interrupted)" in output
    _wait_for(lambda: _gone(workers), timeout=10)
