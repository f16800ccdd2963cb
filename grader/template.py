"""Write the student template repository that GitHub Classroom hands out, and prove it leaks nothing.

The template holds the stubs (``assignments/``, generated from ``solutions/``), the public tests
(``tests/public/``), a student README, ``requirements.txt`` and ``pyproject.toml`` (pytest
configuration), the lecture's Redis 7 ``docker-compose.yml``, a ``.gitignore``, and the public-test
workflow (``.github/workflows/classroom.yml`` with its stdlib-only script
``.github/classroom/public_report.py``). The fixed files live in ``grader/templates/``.

It never holds a hidden suite, a solution body or a credential: the template is built in a
staging folder beside OUT, :func:`find_leaks` checks it, and only then does it land in OUT.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from grader.assignments import ASSIGNMENTS
from grader.errors import GraderFailure, UsageError
from grader.release import BEGIN_SOLUTION, END_SOLUTION, release_stubs

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
TEMPLATES = PACKAGE_DIR / "templates"
ASSIGNMENTS_PLACEHOLDER = "<!-- ASSIGNMENTS -->"

# Files copied from grader/templates: template name → path in the student repository.
FIXED_FILES: dict[str, str] = {
    "requirements.txt": "requirements.txt",
    "pyproject.toml": "pyproject.toml",
    "docker-compose.yml": "docker-compose.yml",
    "gitignore": ".gitignore",
    "classroom.yml": ".github/workflows/classroom.yml",
    "public_report.py": ".github/classroom/public_report.py",
}
README = "README.md"
PUBLIC_TESTS = "tests/public"
STUBS = "assignments"
# Folders of the course repository that OUT must not be (or be inside): writing there would overwrite them.
PROTECTED = ("solutions", "assignments", "tests", "grader", ".git", ".github")
MIN_SOLUTION_LINE = 12  # shorter body lines (`return None`, `pipe.execute()`) are too common to be telling
TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bsecrets\.[A-Za-z_][A-Za-z0-9_]*"),  # a workflow that reads a repository secret
    re.compile(r"redis://[^\s:@/]*:[^\s@/]+@"),  # a Redis URL with a password
)


def release_template(*, out: Path, force: bool = False, root: Path = REPO_ROOT) -> list[str]:
    """Write the student template repository into ``out``; return the paths written, relative, sorted.

    ``out`` must not exist, be empty, or (with ``force``) already hold a template: its files are
    then replaced and any other file is kept. Raises ``UsageError`` for a non-empty ``out`` without
    ``force``, for an ``out`` that is a file, and for an ``out`` that is (or contains) the course
    repository or one of its source folders; ``GraderFailure`` when the built template would leak
    a hidden test, a solution body or a credential (nothing is written then).
    """
    target = _check_target(out=out, root=root, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; it may become ``target`` itself
    try:
        written = _build(staging=staging, root=root)
        if leaks := find_leaks(staging, root=root):
            raise GraderFailure("the template would leak course material; nothing was written:\n" + "\n".join(leaks))
        _land(staging=staging, target=target, files=written)
    finally:
        if staging.exists():  # gone when the whole staged folder became ``target``
            shutil.rmtree(staging, ignore_errors=True)
    return written


def find_leaks(folder: Path, *, root: Path = REPO_ROOT) -> list[str]:
    """What in ``folder`` must not reach students: hidden tests' names, solution body lines, credentials.

    Each entry names the file and what it holds. Reads the hidden suites in ``root/tests/hidden``
    (a name that a public test in ``root/tests/public`` also has is public), and the solutions in
    ``root/solutions``.
    """
    hidden_names = suite_test_names(root / "tests" / "hidden") - suite_test_names(root / PUBLIC_TESTS)
    name_pattern = (
        re.compile(r"\b(" + "|".join(map(re.escape, sorted(hidden_names))) + r")\b") if hidden_names else None
    )
    body_lines = solution_body_lines(root / "solutions")
    problems: list[str] = []
    for path in sorted(_files(folder)):
        relative = path.relative_to(folder).as_posix()
        if relative.startswith(("tests/hidden/", "solutions/")):
            problems.append(f"{relative}: course-only folder")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(f"{relative}: not UTF-8 text (the template holds only text files)")
            continue
        if BEGIN_SOLUTION in text or END_SOLUTION in text:
            problems.append(f"{relative}: holds a solution marker")
        if name_pattern is not None and (found := name_pattern.search(text)):
            problems.append(f"{relative}: names the hidden test {found.group(0)}")
        problems += [f"{relative}: holds the solution line {line!r}" for line in sorted(body_lines) if line in text]
        problems += [
            f"{relative}: holds a credential-like string ({p.pattern})" for p in TOKEN_PATTERNS if p.search(text)
        ]
    return problems


def suite_test_names(suites: Path) -> set[str]:
    """The names of the test functions and classes defined in ``suites/test_*.py``."""
    names: set[str] = set()
    for path in sorted(suites.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name.startswith(
                ("test_", "Test")
            ):
                names.add(node.name)
    return names


def solution_body_lines(solutions: Path) -> set[str]:
    """The telling lines of the solution bodies in ``solutions/*.py``, stripped.

    A line is telling when it is at least ``MIN_SOLUTION_LINE`` characters, not a comment, and
    not also part of the text outside the solution regions (a docstring may state a formula that
    the body then spells out: the stubs publish that text anyway).
    """
    lines: set[str] = set()
    public: list[str] = []
    for path in sorted(solutions.glob("*.py")):
        inside = False
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text in (BEGIN_SOLUTION, END_SOLUTION):
                inside = text == BEGIN_SOLUTION
            elif inside:
                if len(text) >= MIN_SOLUTION_LINE and not text.startswith("#"):
                    lines.add(text)
            else:
                public.append(line)
    outside = "\n".join(public)
    return {line for line in lines if line not in outside}


def readme(*, root: Path = REPO_ROOT) -> str:
    """The student README: the fixed text with a table of the assignments and their functions."""
    rows = [
        "| module | topic | lecture | functions |",
        "|---|---|---|---|",
        *(
            f"| `assignments/{a.filename}` | {a.title} | {a.lecture} | {', '.join(f'`{f}`' for f in a.functions)} |"
            for a in ASSIGNMENTS
        ),
    ]
    text = (TEMPLATES / README).read_text(encoding="utf-8")
    if ASSIGNMENTS_PLACEHOLDER not in text:
        raise GraderFailure(f"{TEMPLATES / README} lost its {ASSIGNMENTS_PLACEHOLDER} line")
    return text.replace(ASSIGNMENTS_PLACEHOLDER, "\n".join(rows))


def _check_target(*, out: Path, root: Path, force: bool) -> Path:
    target = out.resolve()
    course = root.resolve()
    if target == course or course.is_relative_to(target):
        raise UsageError(f"{out} holds the course repository; give an empty folder for the template")
    for name in PROTECTED:
        if target.is_relative_to(course / name):
            raise UsageError(f"{out} is inside the course's {name}/ folder; give a folder outside it")
    if target.exists() and not target.is_dir():
        raise UsageError(f"{out} is a file, not a folder")
    if target.is_dir() and not force and (entries := sorted(p.name for p in target.iterdir())):
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise UsageError(
            f"{out} is not empty ({shown}); give an empty folder, or --force to replace the template files"
        )
    return target


def _build(*, staging: Path, root: Path) -> list[str]:
    """Write every template file under ``staging``; return their relative paths, sorted."""
    release_stubs(solutions=root / "solutions", out=staging / STUBS)
    public = root / PUBLIC_TESTS
    for source in sorted(public.glob("*.py")):
        _write(staging / PUBLIC_TESTS / source.name, source.read_bytes())
    _write(staging / README, readme(root=root).encode("utf-8"))
    for name, destination in FIXED_FILES.items():
        _write(staging / destination, (TEMPLATES / name).read_bytes())
    return sorted(path.relative_to(staging).as_posix() for path in _files(staging))


def _land(*, staging: Path, target: Path, files: list[str]) -> None:
    """Move the staged files into ``target``: the whole folder at once when ``target`` is empty or absent."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        staging.rename(target)
        return
    for relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, destination)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _files(folder: Path) -> Iterator[Path]:
    """Every regular file under ``folder``, skipping Python caches."""
    for path in folder.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path
