"""The course repository's tests."""
