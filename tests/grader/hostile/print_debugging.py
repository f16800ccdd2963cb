"""capped_list: correct code that prints a debugging line on every call, as students often leave in."""

import functools


def _chatty(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        print(f"DEBUG {function.__name__}{args[1:]}")
        return function(*args, **kwargs)

    return wrapper


for _name in ("push_event", "recent_events", "feed_length", "enqueue_job", "dequeue_job"):
    globals()[_name] = _chatty(globals()[_name])
