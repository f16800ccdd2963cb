"""counter: spins at import on the worker's main thread, so only the whole-submission budget can end the run.

Busy on its main thread, the worker never reads the end of its connection when the grader goes away.
"""

while True:
    pass
