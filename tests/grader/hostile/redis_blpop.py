"""capped_list: dequeue_job waits with BLPOP and no timeout, which would block its connection forever."""

import json


def dequeue_job(r, queue):
    item = r.blpop([f"queue:{queue}"], timeout=0)
    return None if item is None else json.loads(item[1])
