"""The notebook track row: ``nbgrader autograde`` of one submission of the five solution notebooks.

Set-up, untimed and once: ``grader notebooks COURSE`` writes the nbgrader course directory from
solutions/ and the suites, ``nbgrader generate_assignment`` releases it, and one student
(``solved``) submits the five released notebooks with every solution cell holding the reference
solution (its code without the markers), as a student who wrote it would hand it in. Each timed
run is the whole ``nbgrader autograde "*" --student solved --force`` command, executing the
notebooks against the benchmark's Redis server (``REDIS_URL``); run.py times ``grader grade``
of solutions/ (the same code, the same tests) on the same server beside it. The check reads
nbgrader's gradebook: every notebook must score 100/100. nbgrader is imported only for that check.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from measure import Finished, Variant

from grader.assignments import NAMES
from grader.release import BEGIN_SOLUTION, END_SOLUTION

KEY = "notebook_nbgrader"
STUDENT = "solved"
SKIP_TEXT = "nbgrader not installed (pip install -e '.[notebooks]')"
SETUP_TIMEOUT_S = 600.0


def available() -> bool:
    return importlib.util.find_spec("nbgrader") is not None


def _run(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> None:
    done = subprocess.run(
        argv, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=SETUP_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
        raise RuntimeError(f"{' '.join(argv[-4:])} exited {done.returncode}: {tail[0][:200]}")


def _cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    return list(notebook["cells"])


def _nbgrader_meta(cell: dict[str, Any]) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else str(source)


def solved_notebook(released: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """``released`` with each solution cell's code taken from the same cell of ``source``, markers dropped."""
    reference = {_nbgrader_meta(c).get("grade_id"): _source(c) for c in _cells(source)}
    for cell in _cells(released):
        meta = _nbgrader_meta(cell)
        if meta.get("solution"):
            lines = reference[meta["grade_id"]].splitlines()
            cell["source"] = "\n".join(line for line in lines if line.strip() not in {BEGIN_SOLUTION, END_SOLUTION})
    return released


def set_up(course: Path, *, grader_argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Write and release the course in ``course`` and submit the solved notebooks as student ``solved``.

    Raises ``RuntimeError`` naming the command that failed.
    """
    _run([*grader_argv, "notebooks", str(course)], cwd=course.parent, env=env)
    _run([sys.executable, "-m", "nbgrader", "generate_assignment", "*", "--force"], cwd=course, env=env)
    for name in NAMES:
        released = json.loads((course / "release" / name / f"{name}.ipynb").read_text(encoding="utf-8"))
        source = json.loads((course / "source" / name / f"{name}.ipynb").read_text(encoding="utf-8"))
        target = course / "submitted" / STUDENT / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(solved_notebook(released, source), indent=1) + "\n", encoding="utf-8")


def build_variant(
    *, course: Path, grader_argv: Sequence[str], base_env: Mapping[str, str], redis_url: str, label: str, group: str
) -> Variant:
    """Set the course up in ``course`` (see :func:`set_up`) and return the timed autograde row."""
    from grader.notebooks import nbgrader_env  # needs the notebooks extra, which available() checked

    course.mkdir(parents=True, exist_ok=True)
    env = nbgrader_env(base_env, home=course.parent / "jupyter")
    set_up(course, grader_argv=grader_argv, env=env)
    argv = (sys.executable, "-m", "nbgrader", "autograde", "*", "--student", STUDENT, "--force")
    run_env = nbgrader_env(base_env, home=course.parent / "jupyter", redis_url=redis_url)
    return Variant(
        KEY,
        label,
        group,
        argv,
        course,
        run_env,
        timeout_s=600.0,
        ok_returncodes=(0,),
        outcome=gradebook_outcome(course),
    )


def gradebook_outcome(course: Path) -> Callable[[Finished], str]:
    """Sum the scores nbgrader's gradebook holds for the student; flag a notebook short of full marks."""

    def outcome(finished: Finished) -> str:
        from nbgrader.api import Gradebook, MissingEntry

        scores: dict[str, tuple[float, float]] = {}
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            for name in NAMES:
                try:
                    submission = gradebook.find_submission(name, STUDENT)
                except MissingEntry:
                    continue
                scores[name] = (float(submission.score), float(submission.max_score))
        score, maximum = sum(s for s, _ in scores.values()), sum(m for _, m in scores.values())
        text = f"{score:g}/{maximum:g} ({len(scores)} notebooks)"
        short = [name for name in NAMES if name not in scores or scores[name][0] != scores[name][1]]
        return text + (f" UNEXPECTED: not full marks: {', '.join(short)}" if short else "")

    return outcome
