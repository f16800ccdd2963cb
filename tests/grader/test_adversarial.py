"""Adversarial corpus: hostile and broken submissions graded in the sandbox, each with an asserted outcome.

Every file in ``hostile/`` attacks one module: its first docstring line names the module and the
threat, and its source is appended to that module's reference solution (it redefines or deletes
what it attacks; the rest stays correct). A case grades the reference solutions with that one
module replaced, through ``grader grade`` on a disposable real Redis, and checks:

* no unearned points: the attacked functions' tests do not pass, every other test of the
  attacked module does, and the other four assignments score 100/100;
* a complete report: ``max_score`` 500 and every expected test present;
* bounded time, and nothing left running afterwards (no process of the submission survives);
* nothing leaks: no line of a hidden suite, no environment secret, and no line that a CI
  runner would read as a workflow command (``::...``) in the terminal output or the reports.

Each worker that imports a hostile module takes the case's token as its process name (the
builder prepends that one line), so anything a grading leaves running can be told apart from the
other gradings on the machine, and is killed after the check so that one hole cannot poison later
cases. The corpus needs the full sandbox (root with namespaces, as on CI); a few cases also grade in
reduced mode on purpose.

Holes the grader does not close yet are ``xfail(strict=True)`` with the reason; fixing the
grader makes them pass, and strictness then asks for the marker to go.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from grader import assignments, cli, render_markdown, render_terminal
from grader.grading import GradeOptions, grade
from grader.report import Report, load_json
from grader.sandbox import full_mode_unavailable

from .conftest import HIDDEN, ROOT, SOLUTIONS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.real_redis,
    pytest.mark.skipif(
        full_mode_unavailable() is not None, reason=f"needs the full sandbox: {full_mode_unavailable()}"
    ),
]

HOSTILE = Path(__file__).resolve().parent / "hostile"
CANARY_ENV = "GRADER_CANARY_SECRET"
# The command lines of the processes that confine and run student code.
SANDBOX_MARKERS = ("worker.py", "grader.sandbox_init")


# --- extra files a submission carries to force passes (none of them may have any effect) ---------

CONFTEST_FORCE_PASS = """
import pytest

pytest_plugins = ["pytester"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome = "passed"
    report.longrepr = None
    return report


def pytest_collection_modifyitems(config, items):
    items[:] = [item for item in items if "counter" not in item.nodeid]
"""
INI_FORCE_PASS = """[pytest]
addopts = -p no:grader.pytest_plugin -k "not counter" --deselect tests/hidden/test_counter.py -p no:timeout
python_files = nothing_to_collect.py
"""
PYPROJECT_FORCE_PASS = """[tool.pytest.ini_options]
addopts = ["-k", "not counter", "-p", "no:grader.pytest_plugin"]
python_files = ["nothing_to_collect.py"]
"""
SETUP_CFG_FORCE_PASS = """[tool:pytest]
addopts = -k "not counter"
"""
SITECUSTOMIZE_FORCE_PASS = """
try:
    import _pytest.reports

    _pytest.reports.TestReport.outcome = property(lambda self: "passed", lambda self, value: None)
except Exception:
    pass
import builtins

builtins.__grader_forced__ = True
"""
SHADOW_REDIS = '''"""A shadow redis-py whose every command answers what a test hopes to see."""


class Redis:
    def __init__(self, *args, **kwargs):
        pass

    @classmethod
    def from_url(cls, *args, **kwargs):
        return cls()

    def __getattr__(self, name):
        return lambda *args, **kwargs: 1


ConnectionError = TimeoutError = RedisError = ResponseError = Exception
'''
SHADOW_PYTEST = '''"""A shadow pytest in which nothing can fail."""


def fail(*args, **kwargs):
    pass


def approx(value, *args, **kwargs):
    return value


class mark:
    def __getattr__(self, name):
        return lambda *args, **kwargs: (lambda function: function)
'''
SHADOW_JSON = '''"""A shadow json module that reports success."""

def dumps(*args, **kwargs):
    return '{"status": "passed"}'


def loads(*args, **kwargs):
    return {"status": "passed", "score": 100}
'''
SHADOW_GRADER_PLUGIN = '''"""A shadow grader.pytest_plugin that records every test as passed."""

import json


def pytest_runtest_logreport(report):
    report.outcome = "passed"


def pytest_sessionfinish(session):
    path = session.config.getoption("--grader-results", None)
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"kind": "result", "status": "passed", "score": 100}) + "\\n")
'''


# --- the cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile submission and what grading it must give.

    ``lose``: functions of the attacked module whose tests must not pass (``"*"``: every test);
    ``may_lose``: functions whose tests may go either way; every other test of the module must
    pass. Lost tests must have a status in ``statuses`` and feedback holding one of ``feedback``.
    """

    hostile: str
    lose: tuple[str, ...] = ("*",)
    may_lose: tuple[str, ...] = ()
    statuses: frozenset[str] = frozenset({"failed"})
    feedback: tuple[str, ...] = ()
    extras: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    budget_s: float = 60.0
    within_s: float = 90.0  # the budget (60 s) plus room; a second budget (a re-run) would exceed it
    sandbox: str = "auto"
    xfail: str = ""
    label: str = ""

    @property
    def id(self) -> str:
        return self.label or self.hostile

    @property
    def module(self) -> str:
        """The attacked module: the first word of the hostile file's docstring."""
        return attacked_module(self.hostile)


WRONG = "wrong_counter"
TIMEOUT = frozenset({"timeout"})
CRASH = frozenset({"failed", "timeout"})

CASES = [
    # Process exits and crashes
    Case("import_os_exit", feedback=("ended the process",)),
    Case("import_sys_exit", feedback=("SystemExit",)),
    Case("function_sys_exit", lose=("get_pageviews",), feedback=("SystemExit",)),
    Case("atexit_fake_score"),
    Case("ctypes_segfault", lose=("was_active",), statuses=CRASH),
    # a module that ends the worker later (async exception, timer thread) only costs its own assignment
    Case("ctypes_async_exc", lose=(), may_lose=("churned",)),
    Case(
        "signal_tricks",
        lose=("get_session", "touch_session"),
        may_lose=("invalidate",),
        statuses=CRASH,
    ),
    # Time
    Case("function_infinite_loop", lose=("feed_length",), statuses=TIMEOUT),
    Case("function_long_sleep", lose=("unique_visitors",), statuses=TIMEOUT),
    Case(
        "import_infinite_loop",
        statuses=CRASH,
        timeout_s=2.0,
        budget_s=30.0,
        within_s=25.0,
    ),
    # Resources
    Case("memory_flood", lose=("get_pageviews",), feedback=("MemoryError",), statuses=CRASH),
    Case("fork_flood", lose=("score",), statuses=CRASH),
    Case("output_flood", lose=(), may_lose=("get_pageviews",)),
    Case("huge_return", lose=("top",), feedback=("plain values",)),
    Case("recursion_bomb", lose=("rank", "score", "players_between"), statuses=CRASH),
    Case("callback_abuse", lose=(), may_lose=("get_or_load",)),
    # Processes left behind
    Case("setsid_child", lose=()),
    Case("setsid_child", lose=(), sandbox="reduced", label="setsid_child_reduced"),
    # The test process and its configuration
    Case(WRONG, extras={"conftest.py": CONFTEST_FORCE_PASS}, label="conftest_py"),
    Case(WRONG, extras={"pytest.ini": INI_FORCE_PASS, "tox.ini": INI_FORCE_PASS}, label="pytest_ini"),
    Case(WRONG, extras={"pyproject.toml": PYPROJECT_FORCE_PASS}, label="pyproject_toml"),
    Case(
        WRONG,
        extras={
            "sitecustomize.py": SITECUSTOMIZE_FORCE_PASS,
            "usercustomize.py": SITECUSTOMIZE_FORCE_PASS,
            "setup.cfg": SETUP_CFG_FORCE_PASS,
            "force.pth": "import sitecustomize\n",
        },
        label="sitecustomize_py",
    ),
    Case(
        WRONG,
        extras={
            "redis.py": SHADOW_REDIS,
            "fakeredis.py": SHADOW_REDIS,
            "pytest.py": SHADOW_PYTEST,
            "json.py": SHADOW_JSON,
            "grader/__init__.py": "",
            "grader/pytest_plugin.py": SHADOW_GRADER_PLUGIN,
        },
        label="shadow_modules",
    ),
    Case("patch_pytest"),
    Case("gc_rewriter_thread"),
    Case("import_timer_exit", lose=()),
    # Output, reports and CI logs
    Case("workflow_commands"),
    # Redis
    # DEBUG is refused by the server's enable-debug-command before the ACL is consulted
    Case("redis_admin_commands", feedback=("Part 2", "DEBUG command not allowed")),
    Case("redis_blpop", lose=("dequeue_job",), feedback=("Part 2",)),
    Case("redis_lua_busy_loop", lose=("pop_most_urgent",), feedback=("Part 2",)),
    Case(
        "redis_fresh_client",
        lose=("get_pageviews",),
    ),
    Case(
        "redis_auth_default",
        lose=("get_pageviews",),
    ),
    # Reading and leaking
    Case("leak_files_and_env"),
    Case("always_equal", feedback=("plain values",)),
    # Common student failures
    Case("syntax_error", feedback=("SyntaxError",)),
    Case("missing_functions", lose=("churned", "active_any_day"), feedback=("defines no function",)),
]


def attacked_module(hostile: str) -> str:
    """``counter`` for a hostile file whose docstring starts ``counter: ...``."""
    first = (HOSTILE / f"{hostile}.py").read_text().lstrip().removeprefix('"""').split(":", 1)[0]
    assert first in assignments.NAMES, f"hostile/{hostile}.py must start with '<module>: <threat>'"
    return first


# --- building and grading a submission ---------------------------------------------------------


def build_submission(
    tmp_path: Path, hostile: str, *, extras: Mapping[str, str] = {}, placeholders: Mapping[str, str] = {}
) -> Path:
    """The reference solutions with ``hostile/<hostile>.py`` appended to the module it attacks."""
    folder = tmp_path / "submission"
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    attack = (HOSTILE / f"{hostile}.py").read_text()
    for name, value in placeholders.items():
        attack = attack.replace(name, value)
    target = folder / f"{attacked_module(hostile)}.py"
    tag = ""
    if token := placeholders.get("__TOKEN__"):
        # The test's own tag, not part of the attack: the worker that imports the module takes the
        # case's token as its process name, so whatever survives the grading can be told apart.
        tag = f"__import__('ctypes').CDLL(None).prctl(15, b'{token}', 0, 0, 0)  # PR_SET_NAME\n"
    target.write_text(target.read_text() + "\n\n# --- hostile addition ---\n" + tag + attack)
    for name, text in extras.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@dataclass(frozen=True)
class Graded:
    """A grading's report, how long it took, and every text it produced (terminal, reports)."""

    report: Report
    elapsed_s: float
    texts: dict[str, str]


def grade_with_cli(
    folder: Path,
    out: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    timeout_s: float,
    budget_s: float,
    sandbox: str = "auto",
) -> Graded:
    """Run ``grader grade`` as CI does, writing the JSON and Markdown reports into ``out``."""
    json_path, markdown_path = out / "report.json", out / "report.md"
    capsys.readouterr()
    started = time.monotonic()
    code = cli.main(
        [
            "grade", str(folder),
            "--json", str(json_path), "--markdown", str(markdown_path),
            "--timeout", f"{timeout_s:g}", "--budget", f"{budget_s:g}", "--sandbox", sandbox,
        ]
    )  # fmt: skip
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK, captured.err[-2000:]
    texts = {
        "stdout": captured.out,
        "stderr": captured.err,
        "json": json_path.read_text(),
        "markdown": markdown_path.read_text(),
    }
    return Graded(load_json(json_path), elapsed, texts)


def grade_directly(folder: Path, options: GradeOptions) -> Graded:
    """``grade()`` with the report rendered as the CLI would render it."""
    started = time.monotonic()
    report = grade(folder, options=options)
    elapsed = time.monotonic() - started
    console = Console(file=StringIO(), width=100, highlight=False)
    render_terminal.render(report, console)
    texts = {
        "stdout": console.file.getvalue(),  # type: ignore[attr-defined]
        "json": json.dumps(report.to_dict(), indent=2, ensure_ascii=False),
        "markdown": render_markdown.render(report),
    }
    return Graded(report, elapsed, texts)


# --- what every grading must satisfy -----------------------------------------------------------


def hidden_tests_calling(module: str, function: str) -> set[str]:
    """Names of the hidden tests of ``module`` that call ``impl.<function>``, directly or through a helper."""
    tree = ast.parse((HIDDEN / f"test_{module}.py").read_text())
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}

    def calls(node: ast.AST, seen: set[str]) -> bool:
        for inner in ast.walk(node):
            if isinstance(inner, ast.Attribute) and inner.attr == function:
                return True
            if isinstance(inner, ast.Name) and inner.id in functions and inner.id not in seen:
                seen.add(inner.id)
                if calls(functions[inner.id], seen):
                    return True
        return False

    return {name for name, node in functions.items() if name.startswith("test_") and calls(node, {name})}


def base_name(test_id: str) -> str:
    """``test_x`` for ``counter::test_x[param]``."""
    return test_id.split("::", 1)[1].split("[", 1)[0]


def assert_attack_contained(graded: Graded, case: Case, expected_ids: set[str]) -> None:
    report = graded.report
    assert report.max_score == 500
    assert {t.id for t in report.tests()} == expected_ids, "the report lost or invented tests"
    assert report.complete, report.notes
    scores = {a.name: a.score for a in report.assignments}
    assert {name: score for name, score in scores.items() if name != case.module} == {
        name: 100 for name in assignments.NAMES if name != case.module
    }, "the attack cost another assignment points"
    attacked = next(a for a in report.assignments if a.name == case.module)
    lose = {"*"} if "*" in case.lose else set().union(*(hidden_tests_calling(case.module, f) for f in case.lose))
    may = set().union(*(hidden_tests_calling(case.module, f) for f in case.may_lose))
    for f in (*case.lose, *case.may_lose):
        assert f == "*" or hidden_tests_calling(case.module, f), f"no hidden test calls {case.module}.{f}"
    for test in attacked.tests:
        name = base_name(test.id)
        if "*" in lose or name in lose:
            assert test.status != "passed" and test.score == 0, f"unearned points: {test.id}"
            assert test.status in case.statuses, (test.id, test.status, test.feedback)
            assert not case.feedback or any(f in test.feedback for f in case.feedback), (test.id, test.feedback)
        elif name not in may:
            assert test.status == "passed", (test.id, test.status, test.feedback)
    assert graded.elapsed_s < case.within_s


def assert_nothing_leaked(graded: Graded, canary: str) -> None:
    """No workflow-command line, no environment canary, no line of a hidden suite (but the test names)."""
    names = [t.name for t in graded.report.tests()]
    for where, text in graded.texts.items():
        for line in text.splitlines():
            assert not line.strip().startswith("::"), f"workflow command in {where}: {line[:200]!r}"
        assert canary not in text, f"the environment canary leaked into {where}"
        for line in suite_lines():
            if line in text and not any(line in name for name in names):
                pytest.fail(f"a hidden suite line leaked into {where}: {line!r}")


def suite_lines(folder: Path = HIDDEN) -> set[str]:
    """Every line of the hidden suites longer than 30 characters, stripped, but those the submission
    holds itself (a line such as ``from __future__ import annotations`` in the reference solutions)."""

    def lines(paths: Iterator[Path]) -> set[str]:
        return {line.strip() for path in paths for line in path.read_text().splitlines() if len(line.strip()) > 30}

    return lines(folder.glob("test_*.py")) - lines(SOLUTIONS.glob("*.py")) - lines(HOSTILE.glob("*.py"))


def leftovers(token: str, *, settle_s: float = 5.0) -> list[str]:
    """Live processes carrying ``token`` in their name or command line: the worker that imported the
    hostile module and anything the attack started. Waits up to ``settle_s`` for killed ones to go."""
    deadline = time.monotonic() + settle_s
    while True:
        found = [describe for _, describe in _processes() if token in describe]
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def kill_leftovers(token: str) -> None:
    """Safety net after a failed check: SIGKILL what this case left behind (the processes carrying
    ``token`` and the sandbox processes above them), so one hole does not poison later gradings."""
    for pid, describe in list(_processes()):
        if token not in describe:
            continue
        current = pid
        while current > 1:
            try:
                cmdline = Path(f"/proc/{current}/cmdline").read_bytes()
                parent = int(Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                break
            if current != pid and not any(m.encode() in cmdline for m in SANDBOX_MARKERS):
                break
            with contextlib.suppress(OSError):
                os.kill(current, signal.SIGKILL)
            current = parent


def _processes() -> Iterator[tuple[int, str]]:
    """(pid, name and command line) of every live, non-zombie process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            yield int(entry.name), f"{comm}\x00{cmdline}"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def expected_ids() -> set[str]:
    """The ids of every hidden test, as the reference solutions' full-marks grading reports them."""
    report = grade(SOLUTIONS, options=GradeOptions(redis_url=None))
    assert (report.score, report.max_score) == (500, 500)
    return {t.id for t in report.tests()}


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> str:
    """A secret in the grading process's environment, and no shared server: each grading gets its own."""
    value = f"canary-{uuid.uuid4()}"
    monkeypatch.setenv(CANARY_ENV, value)
    monkeypatch.setenv("GITHUB_TOKEN", value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return value


@pytest.fixture
def token() -> Iterator[str]:
    """A process name unique to this case (15 characters, the kernel's limit for a task name)."""
    value = "adv" + uuid.uuid4().hex[:12]
    yield value
    kill_leftovers(value)


# --- the corpus --------------------------------------------------------------------------------


def _params() -> list[object]:
    marks = []
    for case in CASES:
        extra = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        marks.append(pytest.param(case, id=case.id, marks=extra))
    return marks


@pytest.mark.parametrize("case", _params())
def test_hostile_submission_is_contained(
    case: Case,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    canary: str,
    token: str,
    expected_ids: set[str],
) -> None:
    folder = build_submission(
        tmp_path,
        case.hostile,
        extras=case.extras,
        placeholders={
            "__TOKEN__": token,
            "__JSON_PATH__": str(tmp_path / "out" / "report.json"),
            "__REPO__": str(ROOT),
            "__SUITES__": str(HIDDEN),
            "__HOLD_S__": "2",
        },
    )
    (tmp_path / "out").mkdir()
    graded = grade_with_cli(
        folder,
        tmp_path / "out",
        capsys,
        timeout_s=case.timeout_s,
        budget_s=case.budget_s,
        sandbox=case.sandbox,
    )
    assert graded.report.isolation == ("full" if case.sandbox == "auto" else case.sandbox)
    assert leftovers(token) == []
    assert_nothing_leaked(graded, canary)
    assert_attack_contained(graded, case, expected_ids)


# Hostile files graded by the dedicated tests below rather than through CASES.
DEDICATED = {
    "report_overwrite",
    "print_debugging",
    "budget_spin",
    "redis_output_buffer",
    "redis_partial_commands",
    "network_exfiltration",
}


def test_corpus_covers_every_hostile_file_and_at_least_25_cases() -> None:
    files = {p.stem for p in HOSTILE.glob("*.py")}
    assert files == {case.hostile for case in CASES} | DEDICATED
    assert len(CASES) >= 25
    assert all(attacked_module(stem) for stem in files)


# --- cases that need more than one grading or a special setup ----------------------------------


def test_symlinked_module_is_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], canary: str, expected_ids: set[str]
) -> None:
    """A module committed as a symlink to where the reference solution might live earns nothing."""
    folder = build_submission(tmp_path, WRONG)
    (folder / "counter.py").unlink()
    (folder / "counter.py").symlink_to(SOLUTIONS / "counter.py")
    (tmp_path / "out").mkdir()
    graded = grade_with_cli(folder, tmp_path / "out", capsys, timeout_s=10, budget_s=60)
    assert_nothing_leaked(graded, canary)
    assert_attack_contained(graded, Case(WRONG, feedback=("symlink",)), expected_ids)


def test_worker_has_no_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], canary: str, token: str, expected_ids: set[str]
) -> None:
    """Student code cannot reach a listener on the host's loopback (the worker has its own network namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = str(listener.getsockname()[1])
        folder = build_submission(tmp_path, "network_exfiltration", placeholders={"__TOKEN__": token, "__PORT__": port})
        (tmp_path / "out").mkdir()
        graded = grade_with_cli(folder, tmp_path / "out", capsys, timeout_s=10, budget_s=60)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert leftovers(token) == []
    assert_nothing_leaked(graded, canary)
    assert_attack_contained(graded, Case("network_exfiltration", lose=("get_pageviews",)), expected_ids)


@pytest.mark.parametrize("sandbox", ["auto", "reduced"])
def test_report_written_by_the_grader_survives_a_detached_writer(
    sandbox: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], canary: str, token: str, expected_ids: set[str]
) -> None:
    """A detached process keeps overwriting the --json path (guessed, or read from /proc); the file
    the grader wrote must be the one left, and the writer must be gone."""
    out = tmp_path / "out"
    out.mkdir()
    folder = build_submission(
        tmp_path, "report_overwrite", placeholders={"__TOKEN__": token, "__JSON_PATH__": str(out / "report.json")}
    )
    graded = grade_with_cli(folder, out, capsys, timeout_s=10, budget_s=60, sandbox=sandbox)
    time.sleep(1.0)  # the writer, had it survived, rewrites the file every 20 ms
    after = (out / "report.json").read_text()
    assert token not in after and after == graded.texts["json"]
    assert load_json(out / "report.json").to_dict() == graded.report.to_dict()
    assert leftovers(token) == []
    assert_nothing_leaked(graded, canary)
    assert_attack_contained(graded, Case("report_overwrite"), expected_ids)


def test_budget_expiry_leaves_no_worker_running(tmp_path: Path, canary: str, token: str) -> None:
    """When the whole-submission budget ends the run, the worker it interrupted goes with it."""
    folder = build_submission(tmp_path, "budget_spin", placeholders={"__TOKEN__": token})
    graded = grade_directly(folder, GradeOptions(assignments=("counter",), per_test_timeout_s=60, budget_s=8))
    assert graded.elapsed_s < 30
    assert not graded.report.complete
    assert graded.report.score < 100
    assert leftovers(token) == []


@pytest.mark.parametrize(
    "where",
    [
        "tmp",
        "/var/lib",
    ],
)
def test_canary_line_in_the_hidden_suites_never_reaches_a_report(
    where: str, canary: str, token: str, tmp_path: Path
) -> None:
    """Suites with a planted canary line, graded against a module that looks for them and leaks them."""
    suites = Path(tempfile.mkdtemp(prefix="adv-suites-", dir=None if where == "tmp" else where))
    try:
        suites.chmod(0o755)  # readable by anyone who can reach it: only hiding may stop the worker
        canary_line = f"# {canary} planted by the adversarial corpus, never to be seen by a student"
        for path in HIDDEN.glob("test_*.py"):
            (suites / path.name).write_text(path.read_text() + f"\n{canary_line}\n")
        folder = build_submission(
            tmp_path,
            "leak_files_and_env",
            placeholders={"__TOKEN__": token, "__REPO__": str(ROOT), "__SUITES__": str(suites)},
        )
        graded = grade_directly(folder, GradeOptions(suites=suites, per_test_timeout_s=10, budget_s=60))
    finally:
        shutil.rmtree(suites, ignore_errors=True)
    for kind, text in graded.texts.items():
        assert canary not in text, f"the canary line of a hidden suite leaked into {kind}"
    assert_nothing_leaked(graded, canary)
    assert leftovers(token) == []


def test_fork_flood_does_not_starve_a_concurrent_grading(tmp_path: Path, canary: str, token: str) -> None:
    """A fork flood held at the process limit in one grading costs a grading running beside it nothing."""
    hostile = build_submission(tmp_path / "hostile", "fork_flood", placeholders={"__TOKEN__": token, "__HOLD_S__": "8"})
    results: dict[str, Report] = {}

    def run(name: str, folder: Path) -> None:
        only = ("leaderboard",) if name == "hostile" else assignments.NAMES
        results[name] = grade(folder, options=GradeOptions(assignments=only, per_test_timeout_s=60, budget_s=180))

    flood = threading.Thread(target=run, args=("hostile", hostile))
    flood.start()
    # once the flood is up (its children carry the token), grade the reference while it holds
    deadline = time.monotonic() + 60
    while sum(token in describe for _, describe in _processes()) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    run("reference", SOLUTIONS)
    flood.join()
    assert leftovers(token) == []
    assert results["reference"].score == 500, {a.name: a.score for a in results["reference"].assignments}


def test_output_flood_does_not_cost_a_later_module_that_prints(
    tmp_path: Path, canary: str, expected_ids: set[str]
) -> None:
    """Flooding stdout in counter.py must not cost a correct capped_list.py that prints a debug line."""
    folder = build_submission(tmp_path, "output_flood")
    chatty = (HOSTILE / "print_debugging.py").read_text()
    target = folder / "capped_list.py"
    target.write_text(target.read_text() + "\n\n" + chatty)
    graded = grade_directly(folder, GradeOptions(per_test_timeout_s=3, budget_s=60))
    assert {a.name: a.score for a in graded.report.assignments}["capped_list"] == 100
    assert_nothing_leaked(graded, canary)


@contextlib.contextmanager
def peak_rss_mb() -> Iterator[dict[str, int]]:
    """Track the peak resident memory, by process name, of this process's children (the disposable
    Redis server and the trusted pytest each grading starts) while the block runs."""
    peaks: dict[str, int] = {}
    done = threading.Event()

    def watch() -> None:
        me = os.getpid()
        while not done.wait(0.05):
            for entry in Path("/proc").iterdir():
                try:
                    if not entry.name.isdigit() or int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != me:
                        continue
                    name = (entry / "comm").read_text().strip()
                    status = (entry / "status").read_text()
                except (OSError, IndexError, ValueError):
                    continue
                rss = next(
                    (int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmRSS")), 0
                )
                peaks[name] = max(peaks.get(name, 0), rss)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield peaks
    finally:
        done.set()
        watcher.join()


SERVER_NAMES = ("redis-server", "valkey-server")


def test_server_memory_stays_bounded_when_replies_are_not_read(tmp_path: Path, canary: str, token: str) -> None:
    """Replies a client never reads cannot grow the Redis server far past maxmemory (256 MB)."""
    folder = build_submission(tmp_path, "redis_output_buffer", placeholders={"__TOKEN__": token})
    with peak_rss_mb() as peaks:
        graded = grade_directly(folder, GradeOptions(assignments=("counter",), per_test_timeout_s=10, budget_s=60))
    assert graded.report.max_score == 100
    server = max(peaks.get(name, 0) for name in SERVER_NAMES)
    assert 0 < server < 700, peaks
    assert leftovers(token) == []


def test_trusted_memory_stays_bounded_when_commands_never_finish(tmp_path: Path, canary: str, token: str) -> None:
    """Commands a client never finishes cannot grow the trusted process or the server without bound."""
    folder = build_submission(tmp_path, "redis_partial_commands", placeholders={"__TOKEN__": token})
    with peak_rss_mb() as peaks:
        graded = grade_directly(folder, GradeOptions(assignments=("counter",), per_test_timeout_s=10, budget_s=60))
    assert graded.report.max_score == 100
    assert 0 < peaks.get("python", 0) < 400, peaks
    assert max(peaks.get(name, 0) for name in SERVER_NAMES) < 400, peaks
    assert leftovers(token) == []
