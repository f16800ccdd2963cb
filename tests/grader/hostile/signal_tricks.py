"""ttl_cache: ignores and blocks signals at import; kills its parent, stops itself, or arms alarms in functions.

Kills are refused when running as root (an unconfined worker) so a sandbox failure cannot hurt the host.
Whatever the signals do, get_session and touch_session then answer wrongly, so they cannot earn points.
"""

import os
import signal

for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGXCPU, signal.SIGXFSZ):
    signal.signal(_sig, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP})


def _confined():
    if os.getuid() == 0:
        raise PermissionError("running as root: refusing to send signals")


def get_session(r, session_id):
    _confined()
    os.kill(os.getppid(), signal.SIGKILL)  # 0 inside a PID namespace: the worker's own process group
    return {"forged": "session"}


def touch_session(r, session_id, ttl_s=3600):
    _confined()
    os.kill(os.getpid(), signal.SIGSTOP)
    return "stopped"


def invalidate(r, key):
    signal.alarm(1)
    signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
    return bool(r.delete(f"cache:{key}"))
