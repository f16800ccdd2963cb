"""counter: sys.exit(0) inside get_pageviews, as a student might write to "stop early"."""

import sys


def get_pageviews(r, page):
    sys.exit(0)
