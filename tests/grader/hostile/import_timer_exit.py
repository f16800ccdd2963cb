"""counter: correct code whose import starts a thread that ends the worker as soon as another module is imported.

The counter tests are unaffected; the damage lands on whichever assignment is graded next in the same worker.
"""

import os
import sys
import threading
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_ME = os.path.abspath(__file__)


def _another_module_loaded():
    for module in list(sys.modules.values()):
        path = os.path.abspath(getattr(module, "__file__", None) or "/")
        if os.path.dirname(path) == _HERE and path != _ME and not path.endswith("worker.py"):
            return True
    return False


def _end_worker_when_another_module_loads():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _another_module_loaded():
            os._exit(0)
        time.sleep(0.005)


threading.Thread(target=_end_worker_when_another_module_loads, daemon=True).start()
