"""Time whole commands, interleaved across variants, and summarise the samples.

Every sample is the wall clock of one subprocess from start to exit: what a person waiting for
the command sees. Variants are run in rounds (A B C A B C ...), so slow spells on a shared
machine hit all of them alike, and paired ratios can be taken round by round.
"""

from __future__ import annotations

import contextlib
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Finished:
    """One run of a command: the process, its launch time (``time.time()``) and its wall-clock seconds."""

    process: subprocess.CompletedProcess[str]
    launched: float
    seconds: float


def last_line(finished: Finished) -> str:
    """The last non-empty line the command printed (pytest's summary line, without its own timing)."""
    lines = [line.strip() for line in finished.process.stdout.splitlines() if line.strip()]
    return re.sub(r" in [0-9.]+s( \([0-9:.]+\))?$", "", lines[-1])[:80] if lines else ""


@dataclass(frozen=True)
class Handed:
    """What a run is handed by a trusted process started with it: arguments to add, descriptors to inherit."""

    args: tuple[str, ...] = ()
    fds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Variant:
    """One command to time; ``outcome`` turns a finished run into a short check string ("500/500 full")."""

    key: str
    label: str
    group: str
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    timeout_s: float = 300.0
    warmup: bool = True
    ok_returncodes: tuple[int, ...] = (0, 1)  # pytest exits 1 when tests fail; the grader 0 whatever the score
    max_runs: int | None = None  # timed in the first rounds only (a slow row in a quick run)
    outcome: Callable[[Finished], str] = last_line
    prepare: Callable[[], None] = lambda: None  # untimed, before every run (e.g. clear an output folder)
    # Around every run: what the grader starts beside the process it launches (e.g. the sandbox's zygote).
    beside: Callable[[], AbstractContextManager[Handed]] = lambda: contextlib.nullcontext(Handed())


@dataclass
class Samples:
    """The timings of one variant, one per round (None where the run failed), and what each run reported."""

    rounds: list[float | None] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> list[float]:
        return [s for s in self.rounds if s is not None]


@dataclass(frozen=True)
class Summary:
    """Median and spread of a list of timings, in seconds."""

    n: int
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "median": self.median,
            "q1": self.q1,
            "q3": self.q3,
            "min": self.minimum,
            "max": self.maximum,
        }


def summarize(values: Sequence[float]) -> Summary:
    """Median, quartiles (inclusive method) and range; all NaN when ``values`` is empty."""
    if not values:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan)
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return Summary(len(ordered), statistics.median(ordered), q1, q3, ordered[0], ordered[-1])


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:120] if lines else ""


def run_once(variant: Variant) -> tuple[Finished | None, str]:
    """Run ``variant`` once after its untimed ``prepare``: the run (None if it timed out) and an error, or ""."""
    variant.prepare()
    with variant.beside() as handed:
        launched = time.time()
        started = time.perf_counter()
        try:
            done = subprocess.run(
                (*variant.argv, *handed.args),
                cwd=variant.cwd,
                env=dict(variant.env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=variant.timeout_s,
                check=False,
                pass_fds=handed.fds,
            )
        except subprocess.TimeoutExpired:
            return None, f"did not finish within {variant.timeout_s:g} s"
        finished = Finished(done, launched, time.perf_counter() - started)
    if done.returncode not in variant.ok_returncodes:
        return finished, f"exit {done.returncode}: {_tail(done.stderr) or _tail(done.stdout)}"
    return finished, ""


def run_rounds(
    variants: Sequence[Variant],
    *,
    repeat: int,
    warmup: bool = True,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Samples]:
    """Time every variant ``repeat`` times, one round at a time, after an untimed warm-up round."""
    if warmup:
        for variant in variants:
            if variant.warmup:
                progress(f"warm-up: {variant.label}")
                run_once(variant)
    results = {variant.key: Samples() for variant in variants}
    for round_number in range(1, repeat + 1):
        for variant in variants:
            samples = results[variant.key]
            if variant.max_runs is not None and round_number > variant.max_runs:
                samples.rounds.append(None)  # not run this round
                continue
            progress(f"round {round_number}/{repeat}: {variant.label}")
            finished, error = run_once(variant)
            if error or finished is None:
                samples.rounds.append(None)
                samples.failures.append(error)
                continue
            samples.rounds.append(finished.seconds)
            try:
                samples.outcomes.append(variant.outcome(finished))
            except Exception as exc:  # a check that breaks must not lose the timings
                samples.outcomes.append(f"UNEXPECTED: outcome check failed: {type(exc).__name__}: {exc}")
    return results


def paired_ratios(numerator: Samples, denominator: Samples) -> list[float]:
    """Round-by-round ratios of two variants timed in the same rounds (rounds where either failed are left out)."""
    pairs = zip(numerator.rounds, denominator.rounds, strict=False)
    return [a / b for a, b in pairs if a is not None and b is not None and b > 0]
