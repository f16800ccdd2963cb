"""The submissions the benchmark grades: the reference solutions, a buggy one and a hostile one.

The buggy submission takes one mutant per assignment from the grader's mutant corpus (the
first of each ``<assignment>.toml``) and applies all five, so every module loses some points.
The hostile submission is the solutions with three functions replaced: in ``counter.py`` one
loops forever and one calls ``os._exit(0)``; in ``ttl_cache.py`` one sleeps 1000 s. Graded with
a short ``--timeout``, it shows the worst case: per-test timeouts, killed and respawned workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.assignments import ASSIGNMENTS
from grader.mutants import Mutant, load_mutants, mutate_source

REPO_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO_ROOT / "solutions"
MUTANTS = REPO_ROOT / "tests" / "grader" / "mutants"


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
