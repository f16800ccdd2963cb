"""ttl_cache: get_or_load floods the loader callback (hundreds of calls, bad arguments, calls from stray threads).

Calling the loader more than once breaks the contract, so the get_or_load tests that load must not pass.
"""

import contextlib
import json
import threading


def _hammer(loader):
    for _ in range(200):
        with contextlib.suppress(Exception):
            loader("unexpected", argument=list(range(1000)))


def get_or_load(r, key, loader, ttl_s=300):
    cached = r.get(f"cache:{key}")
    if cached is not None:
        return json.loads(cached)
    threading.Thread(target=_hammer, args=(loader,), daemon=True).start()
    value = None
    for _ in range(300):
        value = loader()
    if value is not None:
        r.set(f"cache:{key}", json.dumps(value), ex=ttl_s)
    return value
