"""Autograder for the Redis Fundamentals course: release stubs, grade submissions, report scores."""

__version__ = "0.1.0"
