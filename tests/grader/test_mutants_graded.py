"""Every realistic bug in the mutant corpus loses points in its own assignment, and only there.

Each mutant is graded as a whole submission (the other four modules are the reference
solutions) on a real Redis server in the sandbox, as students are graded: a bug that only
shows under real concurrency must be caught, and a crash or hang in one module must not cost
another assignment anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grading import GradeOptions, grade
from grader.mutants import Mutant, load_mutants, write_mutant_submission

from .conftest import MUTANTS, SOLUTIONS

CORPUS = load_mutants(MUTANTS)


@pytest.mark.slow
@pytest.mark.parametrize("mutant", CORPUS, ids=[m.name for m in CORPUS])
def test_mutant_loses_points_in_its_own_assignment_only(mutant: Mutant, tmp_path: Path) -> None:
    submission = write_mutant_submission(mutant, solutions=SOLUTIONS, out=tmp_path / "submission")
    report = grade(submission, options=GradeOptions())
    scores = {a.name: a.score for a in report.assignments}
    assert scores.pop(mutant.assignment) < 100, f"{mutant.name} survived: {mutant.description}"
    assert scores == dict.fromkeys(scores, 100)
    assert report.complete and report.max_score == 500


def test_corpus_has_at_least_six_mutants_per_assignment() -> None:
    per_assignment: dict[str, int] = {}
    for mutant in CORPUS:
        per_assignment[mutant.assignment] = per_assignment.get(mutant.assignment, 0) + 1
    assert len(per_assignment) == 5 and min(per_assignment.values()) >= 6
