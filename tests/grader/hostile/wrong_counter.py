"""counter: every function returns a wrong plain value (the ini, conftest and shadow cases try to rescue it)."""


def record_pageview(r, page):
    return 0


def get_pageviews(r, page):
    return -1


def get_many_pageviews(r, pages):
    return {"home": -1}


def acquire_lock(r, resource, owner, ttl_ms):
    return "yes"


def is_rate_limited(r, ip, limit=10, window_s=60, now=None):
    return "maybe"
