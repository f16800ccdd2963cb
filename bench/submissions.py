"""The submissions the benchmark grades: the reference solutions, a buggy one, a hostile one, a class.

The buggy submission takes one mutant per assignment from the grader's mutant corpus (the
first of each ``<assignment>.toml``) and applies all five, so every module loses some points.
The hostile submission is the solutions with three functions replaced: in ``counter.py`` one
loops forever and one calls ``os._exit(0)``; in ``ttl_cache.py`` one sleeps 1000 s. Graded with
a short ``--timeout``, it shows the worst case: per-test timeouts, killed and respawned workers.
The class (for ``grader batch``) is a mix as at a deadline: correct, buggy, untouched stubs, and
one broken submission (a syntax error in ``counter.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.assignments import ASSIGNMENTS
from grader.mutants import Mutant, load_mutants, mutate_source

REPO_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO_ROOT / "solutions"
MUTANTS = REPO_ROOT / "tests" / "grader" / "mutants"
STUBS = REPO_ROOT / "assignments"
CLASS_MIX = ("correct", "correct", "buggy", "stubs")  # students 1, 2, ... take these in turn; student 0 is broken
BROKEN_MODULE, BROKEN_SOURCE = "counter.py", "def record_pageview(:\n"


@dataclass(frozen=True)
class Replacement:
    """One function of one module swapped for other source."""

    filename: str
    function: str
    source: str


HOSTILE = (
    Replacement(
        "counter.py",
        "get_many_pageviews",
        "def get_many_pageviews(r, pages):\n    while True:\n        pass\n",
    ),
    Replacement(
        "counter.py",
        "acquire_lock",
        "def acquire_lock(r, resource, owner, ttl_ms):\n    import os\n\n    os._exit(0)\n",
    ),
    Replacement(
        "ttl_cache.py",
        "touch_session",
        "def touch_session(r, session_id, ttl_s=3600):\n    import time\n\n    time.sleep(1000)\n",
    ),
)


def one_mutant_per_assignment(folder: Path = MUTANTS) -> list[Mutant]:
    """The first mutant of each assignment in the corpus, in assignment order."""
    chosen: dict[str, Mutant] = {}
    for mutant in load_mutants(folder):
        chosen.setdefault(mutant.assignment, mutant)
    return list(chosen.values())


def write_replaced(replacements: tuple[Replacement, ...], *, out: Path, solutions: Path = SOLUTIONS) -> Path:
    """Write the five solution modules into ``out`` with every replacement applied; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for assignment in ASSIGNMENTS:
        source = (solutions / assignment.filename).read_text(encoding="utf-8")
        for swap in replacements:
            if swap.filename == assignment.filename:
                source = mutate_source(source, function=swap.function, replacement=swap.source)
        (out / assignment.filename).write_text(source, encoding="utf-8")
    return out


def write_buggy(out: Path, *, solutions: Path = SOLUTIONS) -> tuple[Path, list[str]]:
    """A submission with one mutant applied in each of the five modules, and the mutants' names."""
    mutants = one_mutant_per_assignment()
    swaps = tuple(Replacement(f"{m.assignment}.py", m.function, m.source) for m in mutants)
    return write_replaced(swaps, out=out, solutions=solutions), [m.name for m in mutants]


def write_hostile(out: Path, *, solutions: Path = SOLUTIONS) -> Path:
    """The solutions with an infinite loop, an ``os._exit(0)`` and a 1000 s sleep (see the module docstring)."""
    return write_replaced(HOSTILE, out=out, solutions=solutions)


def write_class(folder: Path, *, students: int) -> dict[str, str]:
    """``students`` submission folders ``folder/s000``, ``s001``, ...; returns each student id's kind.

    Student 0 is ``broken`` (the solutions with a syntax error in ``counter.py``); the others are
    ``correct``, ``correct``, ``buggy`` (see :func:`write_buggy`) and ``stubs`` (``assignments/``) in
    turn: a class of 50 has 25 correct, 12 buggy, 12 stubs and 1 broken submission.
    """
    kinds: dict[str, str] = {}
    for index in range(students):
        student, kind = f"s{index:03d}", CLASS_MIX[index % len(CLASS_MIX)] if index else "broken"
        target = folder / student
        if kind == "buggy":
            write_buggy(target)
        else:
            write_replaced((), out=target, solutions=STUBS if kind == "stubs" else SOLUTIONS)
        if kind == "broken":
            (target / BROKEN_MODULE).write_text(BROKEN_SOURCE, encoding="utf-8")
        kinds[student] = kind
    return kinds
