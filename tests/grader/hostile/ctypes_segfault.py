"""set_analytics: was_active writes to address 0 with ctypes, crashing the worker with SIGSEGV."""

import ctypes


def was_active(r, day, user_id):
    ctypes.memset(0, 0, 1)
    return False
