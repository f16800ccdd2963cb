"""Gradescope results.json, JUnit XML and GitHub Classroom results rendered from the canonical report."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from grader import render_classroom, render_gradescope, render_junit
from grader.cli import main
from grader.report import AssignmentResult, RedisInfo, Report, TestResult, load_json

from .conftest import SOLUTIONS, STUBS

HOSTILE = '::error file=x::pwned\n::add-mask::secret <script>alert("x")</script> ]]> & \x01\x1b[31m'
SECTION = "Part 3 · Atomic counters"


def _report(*, complete: bool = True, hostile: str = HOSTILE) -> Report:
    counter = AssignmentResult(
        "counter",
        (
            TestResult("counter::test_a", "Counts views.", "passed", 4, 4, "", SECTION),
            TestResult("counter::test_b", "Keys <right> & proper.", "failed", 0, 3, hostile, SECTION),
            TestResult("counter::test_c", "Finishes in time.", "timeout", 0, 3, "Timed out.", SECTION),
        ),
    )
    capped = AssignmentResult(
        "capped_list",
        (
            TestResult("capped_list::test_d", "Feeds stay capped.", "not_attempted", 0, 5, "Not attempted yet.", ""),
            TestResult("capped_list::test_e", "Queues pop once.", "error", 0, 2, "Infrastructure problem.", "Part 4.2"),
        ),
    )
    return Report(
        assignments=(counter, capped),
        redis=RedisInfo(backend="real", version="7.2.4", description="disposable redis-server 7.2.4"),
        duration_s=3.25,
        grader_version="0.1.0",
        complete=complete,
        notes=("Note with <b>markup</b> & more.",),
    )


def _passing_report() -> Report:
    tests = (TestResult("counter::test_a", "Counts views.", "passed", 4, 4, "", SECTION),)
    return Report(assignments=(AssignmentResult("counter", tests),), redis=RedisInfo("fake", "f"), duration_s=1.0)


# --- Gradescope -------------------------------------------------------------------------------


def test_gradescope_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(render_gradescope.schema())


@pytest.mark.parametrize("visibility", render_gradescope.VISIBILITIES)
def test_gradescope_document_from_a_synthetic_report(visibility: Any) -> None:
    report = _report()
    document = json.loads(render_gradescope.render_json(report, hidden_visibility=visibility))
    assert render_gradescope.problems(document) == []
    assert document["score"] == report.score == 4
    assert document["execution_time"] == 3.25
    assert document["visibility"] == visibility and document["stdout_visibility"] == "hidden"
    assert document["leaderboard"] == [{"name": "Total score", "value": 4, "order": "desc"}]
    tests = document["tests"]
    assert [t["number"] for t in tests] == ["1.1", "1.2", "1.3", "2.1", "2.2"]  # counter is 1, capped_list 2
    assert [t["status"] for t in tests] == ["passed", "failed", "failed", "failed", "failed"]
    assert [(t["score"], t["max_score"]) for t in tests] == [(4, 4), (0, 3), (0, 3), (0, 5), (0, 2)]
    assert {t["visibility"] for t in tests} == {visibility}
    assert tests[0]["tags"] == ["counter", SECTION] and tests[3]["tags"] == ["capped_list"]
    assert tests[1]["name"] == "Keys <right> & proper."
    assert sum(t["score"] for t in tests) == document["score"]
    assert sum(t["max_score"] for t in tests) == report.max_score == document["extra_data"]["max_score"]


def test_gradescope_student_text_is_never_rendered_as_markup() -> None:
    document = render_gradescope.render(_report())
    failed = document["tests"][1]
    assert failed["output"] == HOSTILE  # kept verbatim: JSON carries it safely...
    assert failed["output_format"] == "text" and failed["name_format"] == "text"  # ...and Gradescope shows it as text
    assert document["test_output_format"] == "text" and document["test_name_format"] == "text"
    assert document["output_format"] == "simple_format"  # renders HTML, so the summary is escaped
    assert "<b>" not in document["output"] and "&lt;b&gt;markup&lt;/b&gt; &amp; more." in document["output"]


def test_gradescope_rejects_an_unknown_visibility() -> None:
    with pytest.raises(ValueError, match="hidden_visibility"):
        render_gradescope.render(_report(), hidden_visibility="sometimes")  # type: ignore[arg-type]


def _valid() -> dict[str, Any]:
    return render_gradescope.render(_report())


def _without_scores() -> dict[str, Any]:
    document = _valid()
    del document["score"]
    del document["tests"][2]["score"]
    return document


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        (lambda d: d["tests"][0].update(status="ok"), "tests/0/status"),
        (lambda d: d["tests"][1].update(visibility="sometimes"), "tests/1/visibility"),
        (lambda d: d["tests"][0].update(score="4"), "tests/0/score"),
        (lambda d: d["tests"][0].update(number=1.1), "tests/0/number"),
        (lambda d: d["tests"][0].update(tags="counter"), "tests/0/tags"),
        (lambda d: d.update(output_format="rtf"), "output_format"),
        (lambda d: d.update(stdout_visibility=True), "stdout_visibility"),
        (lambda d: d.update(execution_time=-1), "execution_time"),
        (lambda d: d.update(sc0re=4), "(top level)"),
        (lambda d: d["leaderboard"][0].pop("value"), "leaderboard/0"),
        (lambda d: d["leaderboard"][0].update(order="up"), "leaderboard/0/order"),
    ],
)
def test_gradescope_schema_rejects_broken_documents(broken: Any, where: str) -> None:
    document = _valid()
    broken(document)
    found = render_gradescope.problems(document)
    assert found and any(line.startswith(f"{where}:") for line in found), found
    with pytest.raises(render_gradescope.GradescopeSchemaError, match=r"not a valid Gradescope results\.json"):
        render_gradescope.validate(document)


def test_gradescope_schema_needs_a_score_somewhere() -> None:
    assert render_gradescope.problems(_without_scores())  # no top-level score and a test without one
    document = _without_scores()
    document["score"] = 4
    assert render_gradescope.problems(document) == []


# --- JUnit ------------------------------------------------------------------------------------


def test_junit_document_from_a_synthetic_report() -> None:
    text = render_junit.render(_report())
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text.encode("utf-8"))  # well-formed, even with control characters in the feedback
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "5",
        "failures": "2",
        "errors": "1",
        "skipped": "1",
    }
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["counter", "capped_list"]
    assert [(s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped")) for s in suites] == [
        ("3", "2", "0", "0"),
        ("2", "0", "1", "1"),
    ]
    counter_props = {p.get("name"): p.get("value") for p in suites[0].find("properties") or []}
    assert counter_props == {"score": "4", "max_score": "10"}
    cases = root.findall("testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("counter", "test_a"),
        ("counter", "test_b"),
        ("counter", "test_c"),
        ("capped_list", "test_d"),
        ("capped_list", "test_e"),
    ]
    outcomes = [[child.tag for child in case if child.tag != "properties"] for case in cases]
    assert outcomes == [[], ["failure"], ["failure"], ["skipped"], ["error"]]
    failure = cases[1].find("failure")
    assert failure is not None
    expected = HOSTILE.replace("\x01", "").replace("\x1b", "")  # XML 1.0 cannot carry these at all
    assert failure.get("message") == expected and failure.text == expected and failure.get("type") == "failed"
    assert cases[2].find("failure").get("type") == "timeout"  # type: ignore[union-attr]
    description = {p.get("name"): p.get("value") for p in cases[1].find("properties") or []}["description"]
    assert description == "Keys <right> & proper."


def test_junit_escapes_markup_instead_of_emitting_it() -> None:
    text = render_junit.render(_report())
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "]]>" not in text.split("?>", 1)[1]  # no raw CDATA terminator either


# --- GitHub Classroom -------------------------------------------------------------------------


def test_classroom_result_from_a_synthetic_report() -> None:
    report = _report()
    document = json.loads(render_classroom.render_json(report))
    assert document["version"] == 1 and document["max_score"] == report.max_score == 17
    assert document["status"] == "fail"
    tests = document["tests"]
    assert set(tests[0]) == {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}
    assert [t["status"] for t in tests] == ["pass", "fail", "fail", "fail", "error"]
    assert sum(t["score"] for t in tests) == report.score == 4
    assert tests[0]["name"] == "counter: Counts views."
    assert {t["test_code"] for t in tests} == {render_classroom.TEST_CODE}  # never the hidden test's code
    assert all(t["filename"] == "" and t["line_no"] == 0 for t in tests)


def test_classroom_status_is_pass_only_when_all_passed_and_error_when_incomplete() -> None:
    assert render_classroom.render(_passing_report())["status"] == "pass"
    assert render_classroom.render(_report(complete=False))["status"] == "error"


def test_classroom_messages_cannot_become_workflow_commands() -> None:
    for test in render_classroom.render(_report())["tests"]:
        for text in (test["message"], test["name"]):
            assert "::" not in text and "\n" not in text and "\r" not in text and "\x1b" not in text
    message = render_classroom.render(_report())["tests"][1]["message"]
    assert "pwned" in message and "alert" in message  # neutralized, not dropped


def test_classroom_env_value_and_notices() -> None:
    report = _report()
    decoded = json.loads(base64.b64decode(render_classroom.env_value(report)).decode("utf-8"))
    assert decoded == render_classroom.render(report)
    assert render_classroom.notices(report) == [
        "::notice title=Autograding complete::Points 4/17",
        '::notice title=Autograding report::{"totalPoints":4,"maxPoints":17}',
    ]


# --- from real gradings, through the CLI ------------------------------------------------------


def test_grade_writes_every_format_for_the_solutions(tmp_path: Path) -> None:
    out = {name: tmp_path / "out" / name for name in ("report.json", "results.json", "junit.xml", "classroom.json")}
    argv = ["grade", str(SOLUTIONS), "--backend", "fake", "--quiet", "--hidden-visibility", "after_published"]
    argv += ["--json", str(out["report.json"]), "--gradescope", str(out["results.json"])]
    argv += ["--junit", str(out["junit.xml"]), "--classroom", str(out["classroom.json"])]
    assert main(argv) == 0
    report = load_json(out["report.json"])
    assert report.score == report.max_score == 500

    gradescope = json.loads(out["results.json"].read_text())
    assert render_gradescope.problems(gradescope) == []
    assert gradescope["score"] == 500 and len(gradescope["tests"]) == len(report.tests())
    assert {t["visibility"] for t in gradescope["tests"]} == {"after_published"}
    assert {t["number"].split(".")[0] for t in gradescope["tests"]} == {"1", "2", "3", "4", "5"}

    junit = ET.parse(out["junit.xml"]).getroot()
    assert junit.get("tests") == str(len(report.tests())) and junit.get("failures") == "0"
    assert [s.get("name") for s in junit.findall("testsuite")] == [a.name for a in report.assignments]

    classroom = json.loads(out["classroom.json"].read_text())
    assert classroom["status"] == "pass" and classroom["max_score"] == 500
    assert sum(t["score"] for t in classroom["tests"]) == 500
    assert sorted(p.name for p in out["report.json"].parent.iterdir()) == sorted(out)  # no temp files left


def test_grade_formats_for_the_stubs(tmp_path: Path) -> None:
    results, junit, classroom = tmp_path / "results.json", tmp_path / "junit.xml", tmp_path / "classroom.json"
    argv = ["grade", str(STUBS), "--backend", "fake", "--quiet", "--assignment", "ttl_cache"]
    assert main([*argv, "--gradescope", str(results), "--junit", str(junit), "--classroom", str(classroom)]) == 0
    gradescope = json.loads(results.read_text())
    assert render_gradescope.problems(gradescope) == [] and gradescope["score"] == 0
    assert {t["visibility"] for t in gradescope["tests"]} == {"after_due_date"}  # the default
    assert {t["status"] for t in gradescope["tests"]} == {"failed"}
    assert {t["number"].split(".")[0] for t in gradescope["tests"]} == {"5"}  # ttl_cache keeps its number
    root = ET.parse(junit).getroot()
    assert root.get("skipped") == root.get("tests") != "0"
    document = json.loads(classroom.read_text())
    assert document["status"] == "fail" and {t["score"] for t in document["tests"]} == {0}


def test_unwritable_format_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    argv = ["grade", str(SOLUTIONS), "--backend", "fake", "--quiet", "--assignment", "counter"]
    assert main([*argv, "--junit", str(blocker / "junit.xml")]) == 2
    assert "cannot write" in capsys.readouterr().err and blocker.read_text() == "not a folder"


def test_bad_hidden_visibility_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", str(SOLUTIONS), "--hidden-visibility", "sometimes"]) == 2
    assert "invalid choice" in capsys.readouterr().err
