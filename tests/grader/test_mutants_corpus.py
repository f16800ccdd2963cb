"""The mutant corpus loads and validates, and mutants are spliced into exactly one solution module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grader import assignments
from grader.mutants import Mutant, MutantError, load_mutants, mutate_source, write_mutant_submission

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "mutants"
SOLUTIONS = ROOT / "solutions"
MUTANTS = load_mutants(CORPUS)

MODULE = '''\
"""A tiny module."""

from __future__ import annotations

import functools


def first(x: int) -> int:
    """First."""
    ### BEGIN SOLUTION
    return x + 1
    ### END SOLUTION


@functools.lru_cache(maxsize=None)
@functools.wraps(first)
def second(
    x: int,
) -> int:
    ### BEGIN SOLUTION
    if x:
        return x * 2
    ### END SOLUTION
    return 0


def third(x: int) -> int:
    return x - 1
'''

GOOD = """
def ok(r: redis.Redis) -> int:
    return 1
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _entry(*, id: str = "bad_one", function: str = "record_pageview", source: str | None = None) -> str:
    source = source if source is not None else "def record_pageview(r, page):\n    return 1\n"
    return f"[[mutant]]\nid = {id!r}\ndescription = 'x'\nfunction = {function!r}\nsource = '''\n{source}'''\n"


def test_corpus_covers_every_assignment() -> None:
    by_assignment: dict[str, list[Mutant]] = {name: [] for name in assignments.NAMES}
    for mutant in MUTANTS:
        by_assignment[mutant.assignment].append(mutant)
    for name, mutants in by_assignment.items():
        assert len(mutants) >= 6, f"{name}: only {len(mutants)} mutants"
        ids = [m.id for m in mutants]
        assert len(ids) == len(set(ids)), f"{name}: duplicate ids"
        assert len({m.function for m in mutants}) >= 3, f"{name}: mutants cover too few functions"
    assert {path.stem for path in CORPUS.glob("*.toml")} == set(assignments.NAMES)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_replaces_a_function_of_its_assignment(mutant: Mutant) -> None:
    assert mutant.function in assignments.get(mutant.assignment).functions
    assert mutant.description.strip()
    tree = ast.parse(mutant.source.strip())
    assert [type(node) for node in tree.body] == [ast.FunctionDef]
    assert isinstance(tree.body[0], ast.FunctionDef)
    assert tree.body[0].name == mutant.function


def test_mutate_source_replaces_exactly_one_function() -> None:
    replacement = "    def second(x: int) -> int:\n        return -x\n"
    mutated = mutate_source(MODULE, function="second", replacement=replacement)
    before, _, rest = MODULE.partition("@functools.lru_cache")
    after = rest[rest.index("    return 0\n") + len("    return 0\n") :]
    assert mutated == before + "def second(x: int) -> int:\n    return -x\n" + after
    namespace: dict[str, object] = {}
    exec(compile(mutated, "<mutated>", "exec"), namespace)
    assert namespace["second"](3) == -3  # type: ignore[operator]
    assert namespace["first"](3) == 4  # type: ignore[operator]


def test_mutate_source_first_and_last_functions() -> None:
    first = mutate_source(MODULE, function="first", replacement="def first(x):\n    return 0\n")
    assert first.startswith(MODULE[: MODULE.index("def first")] + "def first(x):\n    return 0\n\n\n@functools")
    assert "    ### END SOLUTION\n\n\n@functools" not in first
    last = mutate_source(MODULE, function="third", replacement="def third(x):\n    return 0")
    assert last == MODULE[: MODULE.index("def third")] + "def third(x):\n    return 0\n"


def test_mutate_source_absent_function() -> None:
    with pytest.raises(MutantError, match="fourth"):
        mutate_source(MODULE, function="fourth", replacement="def fourth():\n    pass\n")
    nested = "class C:\n    def first(self):\n        pass\n"
    with pytest.raises(MutantError, match="first"):
        mutate_source(nested, function="first", replacement="def first():\n    pass\n")


def test_load_rejects_missing_key(tmp_path: Path) -> None:
    _write(tmp_path, "counter", "[[mutant]]\nid = 'no_source'\ndescription = 'x'\nfunction = 'get_pageviews'\n")
    with pytest.raises(MutantError, match=r"counter\.toml.*no_source.*missing key\(s\) source"):
        load_mutants(tmp_path)


def test_load_rejects_unknown_function(tmp_path: Path) -> None:
    _write(tmp_path, "counter", _entry(id="wrong_fn", function="record_visit"))
    with pytest.raises(MutantError, match=r"counter\.toml.*wrong_fn.*unknown function 'record_visit'"):
        load_mutants(tmp_path)


def test_load_rejects_source_defining_another_name(tmp_path: Path) -> None:
    source = "def get_pageviews(r, page):\n    return 0\n"
    _write(tmp_path, "counter", _entry(id="other_name", source=source))
    with pytest.raises(MutantError, match=r"other_name.*defines get_pageviews\(\), expected record_pageview"):
        load_mutants(tmp_path)


@pytest.mark.parametrize(
    "source",
    [
        "def record_pageview(r, page)\n    return 1\n",
        "import os\n\ndef record_pageview(r, page):\n    return 1\n",
        "x = 1\n",
    ],
    ids=["syntax_error", "extra_statement", "no_def"],
)
def test_load_rejects_bad_source(tmp_path: Path, source: str) -> None:
    _write(tmp_path, "counter", _entry(id="bad_source", source=source))
    with pytest.raises(MutantError, match=r"counter\.toml.*bad_source"):
        load_mutants(tmp_path)


def test_load_rejects_duplicate_ids_and_unknown_assignment(tmp_path: Path) -> None:
    _write(tmp_path / "dup", "counter", _entry(id="same") + _entry(id="same"))
    with pytest.raises(MutantError, match="duplicate id 'same'"):
        load_mutants(tmp_path / "dup")
    _write(tmp_path / "unknown", "hashes", _entry())
    with pytest.raises(MutantError, match=r"hashes\.toml.*unknown assignment"):
        load_mutants(tmp_path / "unknown")


def test_load_rejects_unknown_keys_and_bad_id(tmp_path: Path) -> None:
    _write(tmp_path / "extra", "counter", _entry(id="extra_key") + "points = 3\n")
    with pytest.raises(MutantError, match=r"extra_key.*unknown key\(s\) points"):
        load_mutants(tmp_path / "extra")
    _write(tmp_path / "id", "counter", _entry(id="Not-Snake"))
    with pytest.raises(MutantError, match=r"Not-Snake.*snake_case"):
        load_mutants(tmp_path / "id")


def test_write_mutant_submission(tmp_path: Path) -> None:
    for name in assignments.NAMES:
        path = tmp_path / "solutions" / f"{name}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f'"""{name}."""\n\n\ndef {name}_a() -> int:\n    return 1\n', encoding="utf-8")
    mutant = Mutant("leaderboard", "zero", "returns 0", "leaderboard_a", GOOD.replace("ok", "leaderboard_a"))
    out = write_mutant_submission(mutant, solutions=tmp_path / "solutions", out=tmp_path / "out" / "sub")
    assert out == tmp_path / "out" / "sub"
    assert sorted(p.name for p in out.iterdir()) == sorted(a.filename for a in assignments.ASSIGNMENTS)
    for a in assignments.ASSIGNMENTS:
        same = (out / a.filename).read_text() == (tmp_path / "solutions" / a.filename).read_text()
        assert same == (a.name != "leaderboard")
    missing = Mutant("counter", "x", "x", "nothing_here", "def nothing_here():\n    pass\n")
    with pytest.raises(MutantError, match=r"counter/x.*nothing_here"):
        write_mutant_submission(missing, solutions=tmp_path / "solutions", out=tmp_path / "out2")


@pytest.mark.skipif(
    not all((SOLUTIONS / a.filename).is_file() for a in assignments.ASSIGNMENTS), reason="solutions missing"
)
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_applies_to_the_solutions(mutant: Mutant, tmp_path: Path) -> None:
    out = write_mutant_submission(mutant, solutions=SOLUTIONS, out=tmp_path / "submission")
    for a in assignments.ASSIGNMENTS:
        produced = (out / a.filename).read_text(encoding="utf-8")
        original = (SOLUTIONS / a.filename).read_text(encoding="utf-8")
        assert (produced != original) == (a.name == mutant.assignment), a.filename
        compile(produced, str(out / a.filename), "exec")
    mutated = ast.parse((out / f"{mutant.assignment}.py").read_text(encoding="utf-8"))
    names = [n.name for n in mutated.body if isinstance(n, ast.FunctionDef)]
    assert sorted(names) == sorted(assignments.get(mutant.assignment).functions)
