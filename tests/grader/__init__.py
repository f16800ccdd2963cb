"""The grader's own tests."""
