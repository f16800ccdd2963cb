"""Generate the notebook track: an nbgrader course directory built from solutions/ and the test suites.

``release_notebooks`` writes ``OUT/source/<assignment>/<assignment>.ipynb`` for every assignment and
``OUT/nbgrader_config.py``. Nothing is copied by hand: each notebook is assembled from the
solution module (one solution cell per function, its markers intact, and a Markdown cell made from
the module's and the function's docstrings), the public tests (one read-only check cell per
function, worth 0 points) and the hidden suite (one hidden grade cell per test, worth the test's
points, so each notebook is worth what its suite is worth: 100). The tests' code is copied as
written; a connection cell (``grader/notebook_connection.py``) gives the public tests ``r`` and
``impl`` with only redis and fakeredis installed, and a hidden setup cell gives the hidden tests
their fixtures through ``grader.notebook_harness`` at autograde time.

Files this generator wrote carry a fingerprint; a file that lacks it or was edited since is not
overwritten unless ``force`` is set, so nothing an instructor wrote is lost.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from grader import assignments
from grader.assignments import Assignment
from grader.errors import UsageError
from grader.notebook_harness import fixture_names
from grader.release import RAISE_LINE, TODO_LINE, stub_source
from grader.report import write_atomic

NBFORMAT: Any = nbformat  # its constructors and writes() are untyped; typed results are annotated where used
REPO_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO_ROOT / "solutions"
PUBLIC_TESTS = REPO_ROOT / "tests" / "public"
HIDDEN_TESTS = REPO_ROOT / "tests" / "hidden"
CONNECTION_CELL = Path(__file__).with_name("notebook_connection.py")

CONFIG_NAME = "nbgrader_config.py"
LOCAL_CONFIG_NAME = "nbgrader_config_local.py"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
METADATA_KEY = "redis_course"
GENERATOR = "grader notebooks"
CELL_TIMEOUT_S = 120
PUBLIC_FIXTURES = frozenset({"r", "impl"})
COMMAND_URL = re.compile(r"https://redis\.io/docs/latest/commands/([a-z0-9-]+)/?")
URL = re.compile(r"https?://[^\s)>]+[^\s)>.,;:]")
SCHEMA_VERSION = 3  # nbgrader's cell metadata schema
MAX_CELL_ID = 64


class NotebookError(UsageError):
    """The course material cannot become notebooks, or a file in the way was edited by hand."""


# --- reading the course material ------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSource:
    """One function a student writes: its code as in the solution (markers included) and its parts."""

    name: str
    source: str
    signature: str
    doc: str


@dataclass(frozen=True)
class SolutionSource:
    """A solution module taken apart: its docstring, its other module-level code, its functions."""

    doc: str
    setup: str
    functions: tuple[FunctionSource, ...]


@dataclass(frozen=True)
class TestSource:
    """One test function as written (decorators included); ``points`` is 0 for a public test."""

    __test__ = False  # not a pytest test class, whatever its name

    name: str
    source: str
    title: str
    calls: tuple[str, ...]
    points: int


@dataclass(frozen=True)
class SuiteSource:
    """A test module taken apart: module-level code other than the tests (``setup``) and the tests."""

    setup: str
    tests: tuple[TestSource, ...]


def parse_solution(source: str, *, path: str, assignment: Assignment) -> SolutionSource:
    """Split a solution module; every function with a solution region becomes a :class:`FunctionSource`.

    Raises :class:`NotebookError` naming ``path`` when the module does not parse, a solution marker
    is malformed, or a function of ``assignment`` has no solution region.
    """
    tree = _parse(source, path)
    lines = source.splitlines()
    functions: list[FunctionSource] = []
    setup: list[ast.stmt] = []
    for node in _body_without_preamble(tree):
        if isinstance(node, ast.FunctionDef):
            text = _segment(lines, node)
            try:
                stubbed = stub_source(text)
            except ValueError as exc:
                raise NotebookError(f"{path}: function {node.name}: {exc}") from None
            if stubbed != text:
                args = ast.unparse(_without_annotations(node.args))
                functions.append(FunctionSource(node.name, text, f"{node.name}({args})", ast.get_docstring(node) or ""))
                continue
        setup.append(node)
    missing = [name for name in assignment.functions if name not in {f.name for f in functions}]
    if missing:
        raise NotebookError(f"{path}: no function with a solution region for {', '.join(missing)}")
    return SolutionSource(ast.get_docstring(tree) or "", _join(lines, setup), tuple(functions))


def parse_suite(source: str, *, path: str, functions: Sequence[str], graded: bool) -> SuiteSource:
    """Split a test module into its module-level code and its ``test_*`` functions, as written.

    A hidden (``graded``) test needs ``@pytest.mark.points(<int>)`` and takes only the fixtures
    ``grader.notebook_harness`` provides; a public test takes only ``r`` and ``impl`` and carries no
    decorator (students run it without pytest). Test classes and parametrized tests are not
    supported. Raises :class:`NotebookError` naming ``path`` and the test otherwise.
    """
    tree = _parse(source, path)
    lines = source.splitlines()
    tests: list[TestSource] = []
    setup: list[ast.stmt] = []
    for node in _body_without_preamble(tree):
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            raise NotebookError(f"{path}: test class {node.name}: notebooks take only module-level test functions")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            if isinstance(node, ast.AsyncFunctionDef):
                raise NotebookError(f"{path}: {node.name}: async tests are not supported in notebooks")
            tests.append(_test_source(node, lines, path=path, functions=functions, graded=graded))
        else:
            setup.append(node)
    return SuiteSource(_join(lines, setup), tuple(tests))


def _test_source(
    node: ast.FunctionDef, lines: list[str], *, path: str, functions: Sequence[str], graded: bool
) -> TestSource:
    where = f"{path}: {node.name}"
    allowed = fixture_names() if graded else PUBLIC_FIXTURES
    points = 0
    for decorator in node.decorator_list:
        name = ast.unparse(decorator.func if isinstance(decorator, ast.Call) else decorator)
        if not graded:
            raise NotebookError(f"{where}: public tests run without pytest in notebooks; remove @{name}")
        if name.endswith("parametrize"):
            raise NotebookError(f"{where}: parametrized tests are not supported in notebooks")
        if name == "pytest.mark.points":
            points = _points(decorator, where)
    if graded and points == 0:
        raise NotebookError(f"{where}: hidden tests need @pytest.mark.points(<int>)")
    parameters = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
    if unknown := [p for p in parameters if p not in allowed]:
        raise NotebookError(f"{where}: takes {', '.join(unknown)}; notebooks provide only {', '.join(sorted(allowed))}")
    called = {
        n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "impl"
    }
    doc = ast.get_docstring(node)
    title = doc.strip().splitlines()[0] if doc else node.name
    return TestSource(node.name, _segment(lines, node), title, tuple(f for f in functions if f in called), points)


def _points(decorator: ast.expr, where: str) -> int:
    """The int literal of a ``@pytest.mark.points(<int>)`` decorator."""
    value: object = None
    if isinstance(decorator, ast.Call) and len(decorator.args) == 1 and not decorator.keywords:
        try:
            value = ast.literal_eval(decorator.args[0])
        except ValueError:
            value = None
    if type(value) is not int or value <= 0:
        raise NotebookError(f"{where}: @pytest.mark.points needs one positive int literal")
    return value


def _parse(source: str, path: str) -> ast.Module:
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise NotebookError(f"{path}: line {exc.lineno}: {exc.msg}") from None


def _body_without_preamble(tree: ast.Module) -> list[ast.stmt]:
    """The module's statements without its docstring and ``from __future__`` imports (a cell cannot hold them)."""
    body = list(tree.body)
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    return [n for n in body if not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _last_line(lines: list[str], node: ast.stmt) -> int:
    """The statement's last line, counting the comment lines indented into its body right after it.

    (The AST ends a function at its last statement; an ``### END SOLUTION`` after it belongs to it too.)
    """
    assert node.end_lineno is not None
    last = node.end_lineno
    while last < len(lines):
        line = lines[last]
        if not line.lstrip().startswith("#") or len(line) - len(line.lstrip()) <= node.col_offset:
            break
        last += 1
    return last


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The statement's source lines (decorators and trailing body comments included), as written."""
    return "\n".join(lines[_first_line(node) - 1 : _last_line(lines, node)])


def _join(lines: list[str], nodes: Sequence[ast.stmt]) -> str:
    """The statements' source, a blank line where the original had one (two around definitions)."""
    parts: list[str] = []
    previous: ast.stmt | None = None
    for node in nodes:
        if previous is not None and _first_line(node) - _last_line(lines, previous) > 1:
            definition = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            parts.append("\n" if isinstance(node, definition) or isinstance(previous, definition) else "")
        parts.append(_segment(lines, node))
        previous = node
    return "\n".join(parts)


def _bindings(source: str) -> dict[str, str]:
    """The names module-level code binds, each with what binds it: ``import <target>``, or the statement."""
    bindings: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                bindings[name] = f"import {alias.name if alias.asname else name}"
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bindings[alias.asname or alias.name] = f"import {'.' * node.level}{node.module or ''}.{alias.name}"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bindings[node.name] = ast.unparse(node)
        else:
            for target in ast.walk(node):
                if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                    bindings[target.id] = ast.unparse(node)
    return bindings


def _check_shared_names(assignment: str, parts: Sequence[tuple[str, str]]) -> None:
    """The setup cells share the notebook's namespace: no two may bind one name to different things.

    (The same import, or the same statement, in two cells is fine.) Raises :class:`NotebookError`.
    """
    seen: dict[str, tuple[str, str]] = {}
    for where, source in parts:
        for name, binding in _bindings(source).items():
            if name in seen and seen[name][1] != binding:
                raise NotebookError(
                    f"{assignment}: {name!r} is bound by both {seen[name][0]} and {where}, and notebook cells "
                    "share one namespace: rename one"
                )
            seen.setdefault(name, (where, binding))


def _without_annotations(arguments: ast.arguments) -> ast.arguments:
    copy = ast.parse(f"def f({ast.unparse(arguments)}): pass").body[0]
    assert isinstance(copy, ast.FunctionDef)
    for argument in (*copy.args.posonlyargs, *copy.args.args, *copy.args.kwonlyargs, copy.args.vararg, copy.args.kwarg):
        if argument is not None:
            argument.annotation = None
    return copy.args


# --- docstrings as Markdown -----------------------------------------------------------------------


def docstring_markdown(doc: str) -> str:
    """A docstring as Markdown: paragraphs, ````code```` as `code`, ``Example:`` blocks fenced, command links.

    A paragraph ``Command: URL`` (or ``Commands:``) becomes **Redis command:** with each redis.io
    command page linked under the command's name.
    """
    blocks: list[str] = []
    for block in re.split(r"\n\s*\n", inspect.cleandoc(doc)):
        first, _, rest = block.partition("\n")
        label = first.strip().rstrip(":")
        if label in {"Example", "Examples"} and first.strip().endswith(":") and rest:
            blocks.append(f"**{label}** (`r` is a Redis client):\n\n```python\n{inspect.cleandoc(rest)}\n```")
        elif re.match(r"Commands?:", first):
            heading, _, text = " ".join(block.split()).partition(":")
            blocks.append(f"**Redis {heading.lower()}:** {_inline(text.strip())}")
        else:
            blocks.append(_inline(" ".join(block.split())))
    return "\n\n".join(blocks)


def _inline(text: str) -> str:
    text = re.sub(r"``(.+?)``", r"`\1`", text)

    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        command = COMMAND_URL.fullmatch(url)
        return f"[{command.group(1).replace('-', ' ').upper()}]({url})" if command else f"<{url}>"

    return URL.sub(link, text)


# --- building a notebook --------------------------------------------------------------------------

INTRO = """\
**How this notebook works.** Fill in each function in the cell below its description (replace the
`TODO(student)` line and `raise NotImplementedError`). After each function, run its *checks* cell:
those are the public tests of the course repository. The cells marked *Graded test* are empty in
your copy; the graded tests run when your notebook is autograded, and each is worth the points it
names ({points} in all).

The checks run on an in-memory Redis (fakeredis) unless the environment variable `REDIS_URL` is
set (for example `redis://localhost:6379/0`); then they use that real server and **empty its
database before every check**, so point it at a database that holds nothing you need. `r` is a
client for your own experiments.

Do not change the read-only cells: they are restored when your notebook is graded."""

SUBMIT = """\
## Before you submit

Restart the kernel and run all cells (*Kernel → Restart Kernel and Run All Cells*), check that every
*checks* cell prints only `ok`, then use **Validate** (nbgrader) and submit."""

HIDDEN_SETUP_COMMENT = "# The graded tests' setup: empty in your copy of the notebook."


def build_notebook(
    *, assignment: Assignment, solution: SolutionSource, public: SuiteSource, hidden: SuiteSource
) -> nbformat.NotebookNode:
    """The source notebook for ``assignment`` (the instructor's version: solutions and hidden tests in it).

    Raises :class:`NotebookError` when two setup cells bind one name to different things (they share
    the notebook's namespace), or two cells would get the same id.
    """
    connection = _connection_cell_source()
    _check_shared_names(
        assignment.name,
        (
            ("the solution module", solution.setup),
            ("the connection cell", connection),
            ("the public tests' module", public.setup),
            ("the hidden suite's module", hidden.setup),
            ("the hidden test harness", "hidden = HiddenTests = None"),
        ),
    )
    names = [f.name for f in solution.functions]
    total = sum(t.points for t in hidden.tests)
    title, _, about = solution.doc.partition("\n")
    cells: list[nbformat.NotebookNode] = [
        _markdown(
            "intro", f"# {title.strip().rstrip('.')}\n\n{docstring_markdown(about)}\n\n{INTRO.format(points=total)}"
        ),
        _code("setup_imports", f"# The module's imports and constants.\n{solution.setup}".rstrip(), locked=True),
        _code("setup_connection", f"# The connection the checks use; see the notes above.\n{connection}", locked=True),
    ]
    if public.setup:
        cells.append(_code("setup_checks", f"# What the checks need.\n{public.setup}", locked=True))
    hidden_setup = (
        f"{hidden.setup}\n\n\nfrom grader.notebook_harness import HiddenTests\n\n"
        f"hidden = HiddenTests(namespace=globals(), impl=impl, new_client=new_client, functions={tuple(names)!r})"
    )
    cells.append(_code("setup_graded_tests", _hidden(HIDDEN_SETUP_COMMENT, hidden_setup), locked=True, points=0))
    for number, function in enumerate(solution.functions, start=1):
        about_function = docstring_markdown(function.doc)
        cells.append(_markdown(f"about_{function.name}", f"## {number}. `{function.signature}`\n\n{about_function}"))
        cells.append(_code(function.name, function.source, solution=True))
        checks = [t for t in public.tests if _placed_after(t, names) == function.name]
        if checks:
            calls = ", ".join(t.name for t in checks)
            source = "\n\n\n".join(t.source for t in checks)
            header = f"# Checks for {function.name}: run this cell after filling in the function above."
            cells.append(
                _code(f"checks_{function.name}", f"{header}\n{source}\n\n\nrun_tests({calls})", locked=True, points=0)
            )
        for test in (t for t in hidden.tests if _placed_after(t, names) == function.name):
            comment = f"# Graded test ({test.points} point{'s' if test.points != 1 else ''}): {test.title}"
            body = f"{test.source}\n\n\nhidden.run({test.name})"
            cells.append(_code(test.name, _hidden(comment, body), locked=True, points=test.points))
    cells.append(_markdown("submit", SUBMIT))
    ids = [c["id"] for c in cells]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise NotebookError(f"{assignment.name}: two cells would get the id {', '.join(duplicates)}")
    notebook: nbformat.NotebookNode = NBFORMAT.v4.new_notebook(cells=cells)
    notebook.metadata.update(
        {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            METADATA_KEY: {"generator": GENERATOR, "assignment": assignment.name, "cells_sha256": cells_digest(cells)},
        }
    )
    nbformat.validate(notebook)
    return notebook


def _placed_after(test: TestSource, functions: Sequence[str]) -> str:
    """The function whose cell a test follows: the last one (in notebook order) it calls, else the last one."""
    return functions[max((functions.index(f) for f in test.calls), default=len(functions) - 1)]


def _hidden(comment: str, code: str) -> str:
    return f"{comment}\n{BEGIN_HIDDEN}\n{code}\n{END_HIDDEN}"


def _connection_cell_source() -> str:
    source = CONNECTION_CELL.read_text(encoding="utf-8")
    return _join(source.splitlines(), _body_without_preamble(ast.parse(source)))


def _cell_id(name: str) -> str:
    if len(name) <= MAX_CELL_ID:
        return name
    return f"{name[: MAX_CELL_ID - 9]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _markdown(name: str, source: str) -> nbformat.NotebookNode:
    cell: nbformat.NotebookNode = NBFORMAT.v4.new_markdown_cell(source)
    cell["id"] = _cell_id(name)
    return cell


def _code(
    grade_id: str, source: str, *, solution: bool = False, locked: bool = False, points: int | None = None
) -> nbformat.NotebookNode:
    """A code cell with nbgrader metadata: a solution cell, a read-only cell, or (``points`` set) a grade cell."""
    cell: nbformat.NotebookNode = NBFORMAT.v4.new_code_cell(source)
    cell["id"] = _cell_id(grade_id)
    meta: dict[str, Any] = {
        "grade": points is not None,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


def cells_digest(cells: Sequence[Any]) -> str:
    """A fingerprint of the cells' types, sources and nbgrader metadata (outputs and ids do not count).

    Sources count as text whether a notebook file stores them as one string or as a list of lines.
    """
    summary = [
        [
            c["cell_type"],
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
            {k: v for k, v in c.get("metadata", {}).get("nbgrader", {}).items() if k != "checksum"},
        ]
        for c in cells
    ]
    return hashlib.sha256(json.dumps(summary, sort_keys=True).encode("utf-8")).hexdigest()


# --- the course directory -------------------------------------------------------------------------

CONFIG_TEMPLATE = """\
# Generated by `grader notebooks` from the course repository (sha256 {digest}).
# Regenerate it rather than editing it: put your own settings (course_id, exchange, ...) in
# nbgrader_config_local.py beside this file; it is loaded at the end and kept across releases.
c = get_config()  # noqa: F821  (nbgrader provides get_config in configuration files)

# Student copies get the same stub body as the repository's assignments/ modules.
c.ClearSolutions.code_stub = {{"python": {stub!r}}}
# Each graded test stops itself after 10 s; this bounds one whole cell.
c.Execute.timeout = {timeout}
# Feedback shows the autograded notebook: keep the hidden tests' code out of it (the hints stay in the outputs).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "nbgrader.preprocessors.ClearHiddenTests",
]

load_subconfig({local!r})  # noqa: F821
"""


def config_source() -> str:
    """The ``nbgrader_config.py`` the course directory gets, fingerprinted."""
    body = CONFIG_TEMPLATE.format(
        digest="{digest}", stub=f"{TODO_LINE}\n{RAISE_LINE}", timeout=CELL_TIMEOUT_S, local=LOCAL_CONFIG_NAME
    )
    return body.replace("{digest}", _text_digest(body), 1)


def _text_digest(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NotebookRelease:
    """What ``release_notebooks`` did: the files it wrote (with ``check``: the stale ones) and those up to date."""

    root: Path
    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]


def notebook_path(out: Path, name: str) -> Path:
    """Where nbgrader expects an assignment's source notebook."""
    return out / "source" / name / f"{name}.ipynb"


def release_notebooks(
    *,
    out: Path,
    names: Sequence[str] = assignments.NAMES,
    solutions: Path = SOLUTIONS,
    public_tests: Path = PUBLIC_TESTS,
    hidden_tests: Path = HIDDEN_TESTS,
    check: bool = False,
    force: bool = False,
) -> NotebookRelease:
    """Bring the nbgrader course directory ``out`` up to date with the course material.

    Writes (atomically, only what changed) one source notebook per assignment in ``names`` and
    ``nbgrader_config.py``; with ``check`` writes nothing and reports the stale files. Refuses, with
    :class:`NotebookError` listing them, to overwrite files this generator did not write or that were
    edited since, unless ``force``. Other files in ``out`` (gradebook, submissions) are left alone.
    """
    wanted: dict[Path, str] = {out / CONFIG_NAME: config_source()}
    for name in names:
        assignment = assignments.get(name)
        notebook = build_notebook(
            assignment=assignment,
            solution=parse_solution(
                _read(solutions / assignment.filename), path=str(solutions / assignment.filename), assignment=assignment
            ),
            public=_suite(public_tests, assignment, graded=False),
            hidden=_suite(hidden_tests, assignment, graded=True),
        )
        text: str = NBFORMAT.writes(notebook)
        wanted[notebook_path(out, name)] = text + "\n"
    stale = [path for path, text in wanted.items() if not _same(path, text)]
    if not check and not force and (edited := [p for p in stale if _edited_by_hand(p)]):
        raise NotebookError(
            "not overwriting files that `grader notebooks` did not write or that were edited since: "
            + ", ".join(str(p) for p in edited)
            + f". Move your changes into the course material (or {LOCAL_CONFIG_NAME}), or pass --force."
        )
    if not check:
        for path in stale:
            write_atomic(path, wanted[path])
    unchanged = tuple(p for p in wanted if p not in stale)
    return NotebookRelease(root=out, written=tuple(stale), unchanged=unchanged)


def _suite(folder: Path, assignment: Assignment, *, graded: bool) -> SuiteSource:
    path = folder / f"test_{assignment.name}.py"
    return parse_suite(_read(path), path=str(path), functions=assignment.functions, graded=graded)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotebookError(f"cannot read {path}: {exc.strerror or exc}") from None


def _same(path: Path, text: str) -> bool:
    try:
        return path.read_bytes() == text.encode("utf-8")
    except FileNotFoundError:
        return False


def _edited_by_hand(path: Path) -> bool:
    """True when ``path`` exists and is not, as it stands, a file this generator wrote."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError):
        return True
    if path.suffix == ".ipynb":
        try:
            data = json.loads(text)
            stored = data["metadata"][METADATA_KEY]["cells_sha256"]
            return bool(stored != cells_digest(data["cells"]))
        except (ValueError, KeyError, TypeError):
            return True
    match = re.search(r"\(sha256 ([0-9a-f]{64})\)", text)
    return match is None or _text_digest(text.replace(match.group(1), "{digest}", 1)) != match.group(1)


def nbgrader_env(base: Mapping[str, str], *, home: Path, redis_url: str | None = None) -> dict[str, str]:
    """``base`` for running nbgrader with Jupyter's configuration and data under ``home`` (not the
    user's), this interpreter's scripts first on PATH (nbgrader runs ``alembic``), and REDIS_URL
    set to ``redis_url`` (dropped when None)."""
    env = {k: v for k, v in base.items() if k != "REDIS_URL"}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
    )
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return env
