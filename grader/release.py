"""Generate the student stubs in ``assignments/`` from the reference solutions in ``solutions/``.

Each function body in a solution sits between a ``### BEGIN SOLUTION`` and a
``### END SOLUTION`` line (nbgrader's convention). A stub is the solution with every such
region replaced by a ``TODO(student)`` line and ``raise NotImplementedError``; signatures,
docstrings, imports and constants stay byte-identical.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from grader.assignments import ASSIGNMENTS

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
TODO_LINE = "# TODO(student): implement this function (see the docstring)."
RAISE_LINE = "raise NotImplementedError"
PACKAGE_INIT = "__init__.py"


def stub_source(source: str) -> str:
    """Return ``source`` with every solution region, markers included, replaced by a stub body.

    The stub body is ``TODO_LINE`` and ``RAISE_LINE`` at the indentation of the BEGIN
    marker; every other line is kept byte for byte, line endings included. A marker must
    stand alone on its line. Raises ``ValueError`` (naming the line, not the file) on an
    END without a BEGIN, a BEGIN inside an open region, a region never closed, or a
    marker that shares its line with other text.
    """
    out: list[str] = []
    open_line = 0  # line number of the BEGIN marker of the open region; 0 when none is open
    indent = ending = ""
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        text = line.strip()
        if text == BEGIN_SOLUTION:
            if open_line:
                raise ValueError(
                    f"line {number}: nested {BEGIN_SOLUTION!r}; the region opened on line {open_line} is still open"
                )
            open_line = number
            indent = line[: len(line) - len(line.lstrip())]
            ending = _line_ending(line)
        elif text == END_SOLUTION:
            if not open_line:
                raise ValueError(f"line {number}: {END_SOLUTION!r} without a matching {BEGIN_SOLUTION!r}")
            out.append(f"{indent}{TODO_LINE}{ending}")
            out.append(f"{indent}{RAISE_LINE}{_line_ending(line)}")
            open_line = 0
        elif BEGIN_SOLUTION in line or END_SOLUTION in line:
            raise ValueError(f"line {number}: a solution marker must stand alone on its line")
        elif not open_line:
            out.append(line)
    if open_line:
        raise ValueError(f"line {open_line}: {BEGIN_SOLUTION!r} is never closed by {END_SOLUTION!r}")
    return "".join(out)


def release_stubs(*, solutions: Path, out: Path, check: bool = False) -> list[Path]:
    """Bring the stubs in ``out`` up to date with the solutions in ``solutions``.

    Covers ``__init__.py`` (copied as is) and the module of every assignment in
    ``grader.assignments.ASSIGNMENTS`` (stubbed with :func:`stub_source`). Every stub must
    compile. Returns the paths in ``out`` that were stale or missing, in that order: when
    ``check`` is False they have been rewritten (atomically, and only those), when it is
    True nothing is written. Raises ``ValueError`` naming the solution file when its markers
    are malformed, ``SyntaxError`` when a stub does not compile, ``OSError`` when a
    solution cannot be read.
    """
    stale: list[Path] = []
    for name in (PACKAGE_INIT, *(assignment.filename for assignment in ASSIGNMENTS)):
        source_path = solutions / name
        source = source_path.read_bytes().decode("utf-8")
        try:
            expected = source if name == PACKAGE_INIT else stub_source(source)
        except ValueError as exc:
            raise ValueError(f"{source_path}: {exc}") from None
        target = out / name
        compile(expected, str(target), "exec", dont_inherit=True)
        wanted = expected.encode("utf-8")
        if target.is_file() and target.read_bytes() == wanted:
            continue
        stale.append(target)
        if not check:
            _write_atomically(target, wanted)
    return stale


def _line_ending(line: str) -> str:
    """The line break ending ``line``, or ``""`` for a last line that has none."""
    return line[len(line.rstrip("\r\n")) :]


def _write_atomically(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` via a temporary file in the same folder and ``os.replace``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
