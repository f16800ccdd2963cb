"""Student-facing text: every hint is tied to a lecture section, and student text is neutralised."""

from __future__ import annotations

import pytest

from grader import feedback
from grader.feedback import Hint, neutralize

HINTS = {name: value for name, value in vars(feedback).items() if isinstance(value, Hint)}


@pytest.mark.parametrize("name", sorted(HINTS))
def test_every_hint_names_a_lecture_section_in_one_line(name: str) -> None:
    hint = HINTS[name]
    assert hint.section.startswith("Part ") and " · " in hint.section
    assert hint.text and "\n" not in hint.text and str(hint).startswith(f"[{hint.section}] ")


def test_neutralize_keeps_plain_text() -> None:
    assert neutralize("ValueError: bad input 42") == "ValueError: bad input 42"


@pytest.mark.parametrize(
    "hostile",
    [
        "boom\n::error::pwned",
        "x\r\n::add-mask::secret",
        "::set-output name=score::500",
        "pad " * 30 + "::stop-commands::token",
        "a\u2028::notice title=Autograding complete::Points 500/500",
        "\x1b[2J::warning::clear screen",
    ],
)
def test_neutralize_leaves_no_workflow_command_and_one_line(hostile: str) -> None:
    safe = neutralize(hostile)
    assert "::" not in safe
    assert len(safe.splitlines()) == 1
    assert not any(ord(c) < 32 for c in safe)


def test_neutralize_caps_length() -> None:
    assert len(neutralize("y" * 5000)) == feedback.MAX_FEEDBACK_CHARS
    assert neutralize("y" * 5000).endswith("…")
