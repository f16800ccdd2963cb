"""counter: get_pageviews pipelines GETs of a 32 MB value without reading the replies (about 1.3 GB in all).

Unread replies pile up in the server's output buffer for that client unless the server caps it
(client-output-buffer-limit); the attack stops at 40 copies so an uncapped server survives it.
"""

import socket
import time

COPIES = 40
VALUE_BYTES = 32 * 1024 * 1024


def _command(*words):
    parts = [b"*%d\r\n" % len(words)]
    for word in words:
        data = word if isinstance(word, bytes) else str(word).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def get_pageviews(r, page):
    kwargs = r.connection_pool.connection_kwargs
    r.set("ballast", b"x" * VALUE_BYTES)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(kwargs["path"])
    sock.sendall(_command("AUTH", kwargs["username"], kwargs["password"]))
    sock.recv(64)
    request = _command("GET", "ballast")
    for _ in range(COPIES):
        sock.sendall(request)
    time.sleep(1.5)  # replies sit in buffers while nobody reads them
    sock.close()
    r.delete("ballast")
    count = r.get(f"pageviews:{page}")
    return 0 if count is None else int(count)
