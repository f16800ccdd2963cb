"""Errors every command maps to an exit code: bad input exits 2, a failure of the grader exits 1."""

from __future__ import annotations


class UsageError(Exception):
    """Bad usage or unusable input (a path, a config file, a submission); the message says what to fix."""


class GraderFailure(RuntimeError):
    """The grader itself could not complete (infrastructure, not the user's input)."""
