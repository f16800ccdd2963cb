"""Find a submission's modules, copy them into a clean workspace, and import them one by one.

Only the five allowlisted module files are ever used; everything else a submission carries
is ignored. Importing is per module, so a broken module only costs its own assignment.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import traceback
from pathlib import Path
from types import ModuleType

from grader.assignments import ASSIGNMENTS, Assignment
from grader.errors import UsageError

MAX_MODULE_BYTES = 256 * 1024


class SubmissionError(UsageError):
    """The submission as a whole cannot be graded (bad path, nothing to grade)."""


class ModuleProblem(Exception):
    """One module cannot be used; the message is student-facing."""


class ModuleMissing(ModuleProblem):
    """The module file is absent."""


class ModuleBroken(ModuleProblem):
    """The module exists but cannot be imported."""


class FunctionMissing(ModuleProblem, AttributeError):
    """The module does not define a required function."""


def locate(path: Path, *, allow_empty: bool = False) -> Path:
    """The folder that holds the modules: ``path`` itself or ``path/assignments``.

    Raises ``SubmissionError`` when ``path`` is not a folder or, unless ``allow_empty`` (then
    ``path/assignments`` if it is a folder, else ``path``), holds none of the modules.
    """
    if not path.exists():
        raise SubmissionError(f"{path}: no such file or directory")
    if not path.is_dir():
        raise SubmissionError(f"{path}: not a directory (give the folder that holds the modules)")
    for candidate in (path, path / "assignments"):
        if any((candidate / a.filename).is_file() for a in ASSIGNMENTS):
            return candidate
    if allow_empty:
        return path / "assignments" if (path / "assignments").is_dir() else path
    names = ", ".join(a.filename for a in ASSIGNMENTS)
    raise SubmissionError(f"{path}: none of {names} found here or in {path / 'assignments'}")


def copy_modules(source: Path, workspace: Path) -> dict[str, str]:
    """Copy the allowlisted modules from ``source`` into ``workspace``.

    Returns a problem message per assignment whose file could not be taken (symlink, not a
    regular file, too large). Absent files are simply not copied.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    problems: dict[str, str] = {}
    for assignment in ASSIGNMENTS:
        src = source / assignment.filename
        if not src.exists() and not src.is_symlink():
            continue
        if src.is_symlink() or not src.is_file():
            problems[assignment.name] = f"{assignment.filename} is not a regular file (symlinks are not graded)"
        elif src.stat().st_size > MAX_MODULE_BYTES:
            problems[assignment.name] = f"{assignment.filename} is larger than {MAX_MODULE_BYTES // 1024} KiB"
        else:
            shutil.copyfile(src, workspace / assignment.filename)
    return problems


def describe_import_error(exc: BaseException, path: Path) -> str:
    """A student-facing one-liner: file, line and what went wrong while importing ``path``."""
    if isinstance(exc, SyntaxError):
        return f"{path.name} line {exc.lineno}: SyntaxError: {exc.msg}"
    line = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == str(path):
            line = f" line {frame.lineno}"
            break
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    detail = f": {message}" if message else ""
    return f"{path.name}{line}: importing it raised {type(exc).__name__}{detail}"


def import_module(folder: Path, assignment: Assignment) -> ModuleType:
    """Import ``assignment``'s module from ``folder`` under a private name.

    Raises ``ModuleMissing`` or ``ModuleBroken`` with a student-facing message.
    """
    path = folder / assignment.filename
    if not path.is_file():
        raise ModuleMissing(f"{assignment.filename} is missing from the submission")
    name = f"_submission_{assignment.name}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModuleBroken(f"{assignment.filename} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ModuleBroken(describe_import_error(exc, path)) from None
    return module


class Implementation:
    """A loaded module seen through the assignment's contract: missing functions raise clearly."""

    def __init__(self, module: object, assignment: Assignment) -> None:
        self._module = module
        self._assignment = assignment

    def __getattr__(self, name: str) -> object:
        value = getattr(self._module, name, None)
        if value is None or (name in self._assignment.functions and not callable(value)):
            raise FunctionMissing(f"{self._assignment.filename} defines no function {name}()")
        return value
