"""counter: get_pageviews prints 50 MB to stdout and to stderr, then answers correctly."""

import sys

BLOCK = ("x" * 1023 + "\n") * 1024  # 1 MiB


def get_pageviews(r, page):
    for _ in range(50):
        sys.stdout.write(BLOCK)
        sys.stderr.write(BLOCK)
    count = r.get(f"pageviews:{page}")
    return 0 if count is None else int(count)
