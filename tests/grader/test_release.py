"""Tests for grader.release: stubs generated from the solutions keep the contract and drop the code."""

from __future__ import annotations

import importlib.util
import inspect
import shutil
import textwrap
from pathlib import Path
from types import ModuleType

import fakeredis
import pytest

from grader.assignments import ASSIGNMENTS, Assignment
from grader.release import BEGIN_SOLUTION, END_SOLUTION, RAISE_LINE, TODO_LINE, release_stubs, stub_source

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO_ROOT / "solutions"
ASSIGNMENTS_DIR = REPO_ROOT / "assignments"

EXAMPLE = textwrap.dedent(
    '''\
    """An example module."""

    import json

    LIMIT = 3


    def dump(value: object, indent: int = 2) -> str:
        """Return ``value`` as JSON.

        Example:
            >>> dump([1])
            '[1]'
        """
        ### BEGIN SOLUTION
        text = json.dumps(value, indent=indent)
        return text
        ### END SOLUTION


    class Box:
        def size(self) -> int:
            """The size."""
            ### BEGIN SOLUTION
            return LIMIT
            ### END SOLUTION
    '''
)


def _load(path: Path, name: str) -> ModuleType:
    """Import the file at ``path`` as a fresh module called ``name`` (not registered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _solution_lines(source: str) -> list[str]:
    """The non-blank lines strictly between the solution markers, stripped."""
    lines, inside = [], False
    for line in source.splitlines():
        text = line.strip()
        if text in (BEGIN_SOLUTION, END_SOLUTION):
            inside = text == BEGIN_SOLUTION
        elif inside and text:
            lines.append(text)
    return lines


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """A fresh release of the repository's solutions into an empty folder."""
    out = tmp_path / "assignments"
    release_stubs(solutions=SOLUTIONS, out=out)
    return out


def test_stub_source_replaces_the_body_and_keeps_everything_else() -> None:
    stub = stub_source(EXAMPLE)
    expected = EXAMPLE.replace(
        "    ### BEGIN SOLUTION\n    text = json.dumps(value, indent=indent)\n    return text\n    ### END SOLUTION\n",
        f"    {TODO_LINE}\n    {RAISE_LINE}\n",
    ).replace(
        "        ### BEGIN SOLUTION\n        return LIMIT\n        ### END SOLUTION\n",
        f"        {TODO_LINE}\n        {RAISE_LINE}\n",
    )
    assert stub == expected
    assert "json.dumps" not in stub
    assert "def dump(value: object, indent: int = 2) -> str:" in stub


def test_stub_source_raises_not_implemented() -> None:
    namespace: dict[str, object] = {}
    exec(compile(stub_source(EXAMPLE), "<stub>", "exec"), namespace)
    dump = namespace["dump"]
    assert callable(dump)
    assert dump.__doc__ is not None and dump.__doc__.startswith("Return ``value`` as JSON.")
    with pytest.raises(NotImplementedError):
        dump([1])


def test_stub_source_keeps_line_endings_and_text_without_markers() -> None:
    plain = "x = 1\r\n\r\ndef f():\r\n    return x\r\n"
    assert stub_source(plain) == plain
    crlf = "def f():\r\n    ### BEGIN SOLUTION\r\n    return 1\r\n    ### END SOLUTION\r\n"
    assert stub_source(crlf) == f"def f():\r\n    {TODO_LINE}\r\n    {RAISE_LINE}\r\n"
    no_final_newline = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    assert stub_source(no_final_newline) == f"def f():\n    {TODO_LINE}\n    {RAISE_LINE}"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "line 2: '### BEGIN SOLUTION' is never closed"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "line 3: '### END SOLUTION' without a matching"),
        (
            "def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n",
            "line 3: nested '### BEGIN SOLUTION'",
        ),
        ("def f():\n    return 1  ### BEGIN SOLUTION\n", "line 2: a solution marker must stand alone"),
    ],
)
def test_stub_source_rejects_malformed_markers(source: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        stub_source(source)
    assert "solutions" not in str(info.value)


def test_release_writes_all_files_then_check_finds_nothing_stale(tmp_path: Path) -> None:
    out = tmp_path / "assignments"
    names = ["__init__.py", *(a.filename for a in ASSIGNMENTS)]
    assert release_stubs(solutions=SOLUTIONS, out=out, check=True) == [out / n for n in names]
    assert not out.exists()  # check mode writes nothing
    assert release_stubs(solutions=SOLUTIONS, out=out) == [out / n for n in names]
    assert release_stubs(solutions=SOLUTIONS, out=out, check=True) == []
    assert release_stubs(solutions=SOLUTIONS, out=out) == []
    assert (out / "__init__.py").read_bytes() == (SOLUTIONS / "__init__.py").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temporary files left behind


def test_check_reports_an_edited_solution_and_a_missing_stub(tmp_path: Path) -> None:
    solutions = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, solutions)
    out = tmp_path / "assignments"
    release_stubs(solutions=solutions, out=out)
    counter = solutions / "counter.py"
    counter.write_text(counter.read_text().replace("Count one view", "Count a single view"))
    (out / "leaderboard.py").unlink()
    stale = [out / "counter.py", out / "leaderboard.py"]
    assert release_stubs(solutions=solutions, out=out, check=True) == stale
    assert release_stubs(solutions=solutions, out=out) == stale
    assert "Count a single view" in (out / "counter.py").read_text()


def test_editing_only_a_solution_body_changes_no_stub(tmp_path: Path) -> None:
    solutions = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, solutions)
    out = tmp_path / "assignments"
    release_stubs(solutions=solutions, out=out)
    counter = solutions / "counter.py"
    counter.write_text(counter.read_text().replace("    ### END SOLUTION\n", "    # tweak\n    ### END SOLUTION\n"))
    assert release_stubs(solutions=solutions, out=out, check=True) == []


def test_malformed_solution_names_the_file_and_writes_nothing(tmp_path: Path) -> None:
    solutions = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, solutions)
    (solutions / "counter.py").write_text("def f():\n    ### END SOLUTION\n")
    out = tmp_path / "assignments"
    with pytest.raises(ValueError, match=r"counter\.py: line 2"):
        release_stubs(solutions=solutions, out=out, check=True)
    assert not out.exists()


def test_stub_that_does_not_compile_is_refused(tmp_path: Path) -> None:
    solutions = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, solutions)
    (solutions / "counter.py").write_text("def f(:\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n")
    with pytest.raises(SyntaxError):
        release_stubs(solutions=solutions, out=tmp_path / "assignments", check=True)


def test_committed_assignments_are_up_to_date() -> None:
    """assignments/ is what `grader release` generates from solutions/ (regenerate it if this fails)."""
    assert release_stubs(solutions=SOLUTIONS, out=ASSIGNMENTS_DIR, check=True) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_every_stub_function_keeps_its_contract_and_raises(released: Path, assignment: Assignment) -> None:
    stub = _load(released / assignment.filename, f"_stub_{assignment.name}")
    solution = _load(SOLUTIONS / assignment.filename, f"_solution_{assignment.name}")
    for function_name in assignment.functions:
        stub_function = getattr(stub, function_name)
        solution_function = getattr(solution, function_name)
        signature = inspect.signature(stub_function)
        assert signature == inspect.signature(solution_function), function_name
        assert stub_function.__doc__ == solution_function.__doc__, function_name
        assert stub_function.__doc__ and "https://redis.io/docs/latest/commands/" in stub_function.__doc__
        assert "Example:" in stub_function.__doc__
        r = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
        args = [r if p.name == "r" else None for p in signature.parameters.values() if p.default is p.empty]
        with pytest.raises(NotImplementedError):
            stub_function(*args)
        assert r.dbsize() == 0, f"{function_name} touched Redis before raising"


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_no_solution_line_leaks_into_a_stub(released: Path, assignment: Assignment) -> None:
    filename = assignment.filename
    solution_source = (SOLUTIONS / filename).read_text()
    stub_lines = {line.strip() for line in (released / filename).read_text().splitlines()}
    body = _solution_lines(solution_source)
    assert body, f"{filename} has no solution regions"
    assert not [line for line in body if line in stub_lines]
    assert BEGIN_SOLUTION not in (released / filename).read_text()
    assert solution_source.count(BEGIN_SOLUTION) == (released / filename).read_text().count(TODO_LINE)
