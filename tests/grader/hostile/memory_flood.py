"""counter: get_pageviews allocates memory until MemoryError (capped at 4 GiB so an unconfined run stays survivable).

Only when the cap is reached without a MemoryError (no address-space limit) does it answer correctly,
so a missing memory limit shows up as points.
"""

CHUNK = 64 * 1024 * 1024
CAP = 4 * 1024 * 1024 * 1024


def get_pageviews(r, page):
    hoard = []
    while len(hoard) * CHUNK < CAP:
        hoard.append(bytearray(CHUNK))
    hoard.clear()
    count = r.get(f"pageviews:{page}")
    return 0 if count is None else int(count)
