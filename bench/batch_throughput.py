"""Batch throughput: submissions graded per minute by ``grader batch`` at 1 and 2 jobs, on real Redis.

The class is a generated mix, as at a deadline: correct submissions, buggy ones (one mutant per
module), untouched stubs and a broken one (a syntax error). Every round grades the whole class
once per job count, interleaved (1, 2, 1, 2, ...), each grading on its own disposable server,
fully sandboxed where the machine allows it. Prints the median submissions per minute.

    .venv/bin/python bench/batch_throughput.py [--students 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from submissions import SOLUTIONS, write_buggy  # noqa: E402  (bench/ is not a package)

from grader.batch import run_batch  # noqa: E402
from grader.grading import GradeOptions  # noqa: E402

STUBS = ROOT / "assignments"


def write_class(folder: Path, students: int) -> None:
    """``students`` submission folders: mostly correct, some buggy, some stubs, one broken."""
    buggy_template, _ = write_buggy(folder / ".buggy")
    for index in range(students):
        kind = ("correct", "correct", "buggy", "stubs")[index % 4] if index else "broken"
        target = folder / f"s{index:03d}"
        source = {"correct": SOLUTIONS, "buggy": buggy_template, "stubs": STUBS, "broken": SOLUTIONS}[kind]
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
        if kind == "broken":
            (target / "counter.py").write_text("def record_pageview(:\n")
    shutil.rmtree(folder / ".buggy")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        write_class(work / "class", args.students)
        per_minute: dict[int, list[float]] = {1: [], 2: []}
        for round_ in range(args.repeat):
            for jobs in (1, 2):
                started = time.monotonic()
                result = run_batch(
                    source=work / "class", out=work / f"out-{jobs}-{round_}", options=GradeOptions(), jobs=jobs
                )
                elapsed = time.monotonic() - started
                per_minute[jobs].append(args.students / elapsed * 60)
                statuses = sorted({o.status for o in result.outcomes})
                print(f"round {round_ + 1} jobs {jobs}: {elapsed:.1f} s, {per_minute[jobs][-1]:.1f}/min, {statuses}")
        for jobs, values in per_minute.items():
            spread = f"{min(values):.1f}-{max(values):.1f}"
            print(f"jobs {jobs}: median {statistics.median(values):.1f} submissions/min ({spread}, n={len(values)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
