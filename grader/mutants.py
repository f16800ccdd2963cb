"""Realistic buggy implementations ("mutants") that prove the hidden suites catch real student bugs.

A mutant replaces one function of one reference solution with a plausible wrong version. The
corpus lives in TOML files, one per assignment (``<assignment>.toml``, a ``[[mutant]]`` table
each); this module loads and validates it, splices a mutant into a solution module, and writes
a complete five-module submission in which only the mutated module differs from the solutions.
"""

from __future__ import annotations

import ast
import re
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader import assignments
from grader.assignments import ASSIGNMENTS

_ID = re.compile(r"[a-z][a-z0-9_]*")
_KEYS = ("id", "description", "function", "source")


@dataclass(frozen=True)
class Mutant:
    """One wrong version of one function of one assignment."""

    assignment: str
    id: str
    description: str
    function: str
    source: str

    @property
    def name(self) -> str:
        """``assignment/id``, unique across the corpus."""
        return f"{self.assignment}/{self.id}"


class MutantError(ValueError):
    """A mutant file or entry is malformed, or a mutant cannot be applied."""


def _check_source(source: str, *, function: str, where: str) -> None:
    """Require ``source`` to be exactly one top-level ``def function``."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError as exc:
        raise MutantError(f"{where}: source does not parse: line {exc.lineno}: {exc.msg}") from None
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    if len(tree.body) != 1 or len(defs) != 1:
        raise MutantError(f"{where}: source must be exactly one function definition, def {function}(...)")
    if defs[0].name != function:
        raise MutantError(f"{where}: source defines {defs[0].name}(), expected {function}()")


def _parse_entry(entry: object, *, assignment: str, where: str) -> Mutant:
    """Validate one ``[[mutant]]`` table into a ``Mutant``."""
    if not isinstance(entry, dict):
        raise MutantError(f"{where}: expected a [[mutant]] table")
    ident = entry.get("id")
    if isinstance(ident, str):
        where = f"{where} (id {ident!r})"
    missing = [key for key in _KEYS if key not in entry]
    if missing:
        raise MutantError(f"{where}: missing key(s) {', '.join(missing)}")
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise MutantError(f"{where}: unknown key(s) {', '.join(unknown)}")
    values = {key: entry[key] for key in _KEYS}
    for key, value in values.items():
        if not isinstance(value, str) or not value.strip():
            raise MutantError(f"{where}: {key} must be a non-empty string")
    mutant = Mutant(assignment=assignment, **values)
    if not _ID.fullmatch(mutant.id):
        raise MutantError(f"{where}: id must be snake_case")
    functions = assignments.get(assignment).functions
    if mutant.function not in functions:
        raise MutantError(
            f"{where}: unknown function {mutant.function!r} for {assignment}; known: {', '.join(functions)}"
        )
    _check_source(mutant.source, function=mutant.function, where=where)
    return mutant


def load_file(path: Path) -> list[Mutant]:
    """The mutants of one ``<assignment>.toml`` file, validated."""
    assignment = path.stem
    if assignment not in assignments.NAMES:
        raise MutantError(f"{path}: unknown assignment {assignment!r}; known: {', '.join(assignments.NAMES)}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MutantError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"mutant"})
    if unknown:
        raise MutantError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; expected [[mutant]] tables")
    entries = data.get("mutant", [])
    if not isinstance(entries, list):
        raise MutantError(f"{path}: 'mutant' must be an array of tables ([[mutant]])")
    mutants: list[Mutant] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        mutant = _parse_entry(entry, assignment=assignment, where=f"{path}: mutant #{index}")
        if mutant.id in seen:
            raise MutantError(f"{path}: mutant #{index}: duplicate id {mutant.id!r}")
        seen.add(mutant.id)
        mutants.append(mutant)
    return mutants


def load_mutants(folder: Path) -> list[Mutant]:
    """Every mutant of every ``<assignment>.toml`` in ``folder``, in assignment order."""
    if not folder.is_dir():
        raise MutantError(f"{folder}: not a directory")
    paths = {path.stem: path for path in sorted(folder.glob("*.toml"))}
    for stem, path in paths.items():
        if stem not in assignments.NAMES:
            raise MutantError(f"{path}: unknown assignment {stem!r}; known: {', '.join(assignments.NAMES)}")
    return [mutant for name in assignments.NAMES if name in paths for mutant in load_file(paths[name])]


def _function_lines(tree: ast.Module, lines: list[str], *, function: str) -> tuple[int, int]:
    """0-based ``[start, end)`` line span of the top-level ``def function``, decorators included.

    The span also takes the indented comment lines that close the body (such as a
    ``### END SOLUTION`` marker), so no orphaned body comment is left behind.
    """
    nodes = [
        node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function
    ]
    if not nodes:
        raise MutantError(f"no top-level function {function}() to replace")
    if len(nodes) > 1:
        raise MutantError(f"function {function}() is defined {len(nodes)} times; cannot tell which to replace")
    node = nodes[0]
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
    end = node.end_lineno if node.end_lineno is not None else node.lineno
    last = end
    while last < len(lines):
        line = lines[last]
        if line.strip() and not (line[:1].isspace() and line.lstrip().startswith("#")):
            break
        last += 1
        if line.strip():
            end = last
    return start, end


def mutate_source(solution_source: str, *, function: str, replacement: str) -> str:
    """``solution_source`` with its top-level ``def function`` replaced by ``replacement``.

    Everything else is kept byte for byte. Raises ``MutantError`` when the function is absent
    or the result does not parse.
    """
    try:
        tree = ast.parse(solution_source)
    except SyntaxError as exc:
        raise MutantError(f"solution source does not parse: line {exc.lineno}: {exc.msg}") from None
    lines = solution_source.splitlines(keepends=True)
    start, end = _function_lines(tree, lines, function=function)
    newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
    body = textwrap.dedent(replacement).strip("\n").splitlines()
    mutated = "".join(lines[:start]) + "".join(line + newline for line in body) + "".join(lines[end:])
    try:
        ast.parse(mutated)
    except SyntaxError as exc:
        raise MutantError(
            f"replacing {function}() gives code that does not parse: line {exc.lineno}: {exc.msg}"
        ) from None
    return mutated


def write_mutant_submission(mutant: Mutant, *, solutions: Path, out: Path) -> Path:
    """Write the five solution modules into ``out`` with ``mutant`` applied to its module; returns ``out``."""
    if mutant.assignment not in assignments.NAMES:
        raise MutantError(f"{mutant.name}: unknown assignment; known: {', '.join(assignments.NAMES)}")
    out.mkdir(parents=True, exist_ok=True)
    for assignment in ASSIGNMENTS:
        source_path = solutions / assignment.filename
        try:
            source = source_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MutantError(f"{mutant.name}: cannot read solution {source_path}: {exc.strerror}") from None
        if assignment.name == mutant.assignment:
            try:
                source = mutate_source(source, function=mutant.function, replacement=mutant.source)
            except MutantError as exc:
                raise MutantError(f"{mutant.name}: {source_path}: {exc}") from None
        (out / assignment.filename).write_text(source, encoding="utf-8")
    return out
