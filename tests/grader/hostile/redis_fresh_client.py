"""counter: get_pageviews opens its own client on the proxy socket without credentials, to act as an admin.

It answers correctly only when that client is not the restricted student user (it can then run FLUSHALL,
CONFIG, SHUTDOWN, MONITOR ...), so an ACL bypass shows up as points.
"""

import redis


def get_pageviews(r, page):
    kwargs = r.connection_pool.connection_kwargs
    admin = redis.Redis(unix_socket_path=kwargs["path"], decode_responses=True)
    try:
        user = admin.execute_command("ACL", "WHOAMI")
        admin.config_set("maxmemory-policy", "allkeys-random")
    finally:
        admin.close()
    if user == kwargs.get("username"):
        raise PermissionError("still the student user")
    count = r.get(f"pageviews:{page}")
    return 0 if count is None else int(count)
