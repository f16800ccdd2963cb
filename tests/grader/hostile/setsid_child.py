"""counter: record_pageview leaves a detached setsid grandchild (renamed __TOKEN__) that would live on for 60 s.

It detaches one child per worker (not per call: the concurrency tests call it hundreds of times). The
function is otherwise correct, so full marks are legitimate; the grader must still kill the child.
"""

import ctypes
import os
import threading
import time


def _detach():
    child = os.fork()
    if child != 0:
        os.waitpid(child, 0)
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)  # PR_SET_NAME
    os.closerange(3, 256)
    time.sleep(60)
    os._exit(0)


_detached = []
_lock = threading.Lock()


def record_pageview(r, page):
    with _lock:
        if not _detached:
            _detached.append(True)
            _detach()
    return r.incr(f"pageviews:{page}")
