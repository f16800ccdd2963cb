"""Student-facing feedback: one named hint per idea the suites check, each tied to a lecture section.

Hints say what to revisit, never what a test did or expected. Suites attach them with
``@pytest.mark.hint(feedback.NAME)``; reports print ``str(hint)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_FEEDBACK_CHARS = 600
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class Hint:
    """A one-line explanation tied to the lecture section that teaches it."""

    section: str
    text: str

    def __str__(self) -> str:
        return f"[{self.section}] {self.text}"


def neutralize(text: str, *, limit: int = MAX_FEEDBACK_CHARS) -> str:
    """Make text that may carry student-controlled parts safe for reports and CI logs.

    One line (control characters and line breaks become spaces), no ``::`` that a CI runner could
    read as a workflow command (``::error::``, ``::add-mask::``...), at most ``limit`` characters.
    """
    line = " ".join(_CONTROL.sub(" ", text).split())
    line = line.replace("::", ":\u200b:")
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --- Generic messages the grader itself produces -------------------------------------------------

NOT_ATTEMPTED = "Not attempted yet: the function still raises NotImplementedError."
MODULE_MISSING = "{file} is missing from the submission, so its tests were not run."
TIMEOUT = "Timed out: the code did not finish in time (an endless loop, a blocking command or a long sleep?)."
INFRA_ERROR = "The grader could not run this test (an infrastructure problem, not your code); it will be regraded."
WORKER_DIED = "Your code ended the process that runs it (sys.exit, os._exit, a crash, or a resource limit)."
FORBIDDEN_COMMAND = Hint(
    "Part 2 · Commands and ACLs",
    "Student code may not run admin, dangerous, scripting or blocking commands here; use the commands the "
    "lecture teaches.",
)
KEYS_FORBIDDEN = Hint(
    "Part 2.4 · SCAN, not KEYS",
    "KEYS blocks the whole server while it walks every key; iterate with SCAN (scan_iter) instead.",
)

# --- Part 3: strings and atomic counters (counter.py) --------------------------------------------

COUNTER_INCR = Hint(
    "Part 3 · Atomic counters",
    "Count with INCR on the key the spec names; it creates the key at 0 and returns the new value.",
)
COUNTER_ATOMIC = Hint(
    "Part 3 · Atomic counters",
    "Read-modify-write (GET, add one, SET) loses updates when clients race; let the server do it with INCR.",
)
COUNTER_GET = Hint(
    "Part 3 · Strings",
    "GET returns a string, or nothing for a missing key: convert to int and treat a missing key as 0.",
)
COUNTER_MGET = Hint(
    "Part 3 · Fewer round trips",
    "Fetch many keys with one MGET (or one pipeline) instead of one GET per key; missing keys count as 0.",
)
LOCK_SET_NX = Hint(
    "Part 3 · Locks with SET NX PX",
    "Take a lock with one SET key owner NX PX ttl: only the first writer wins and the lock always expires.",
)
LOCK_RACE = Hint(
    "Part 3 · Locks with SET NX PX",
    "Checking first and setting after is a race: two clients can both see the lock free. Use one SET NX.",
)
RATE_LIMIT = Hint(
    "Part 3 · Fixed-window rate limiting",
    "Count attempts with INCR on ratelimit:login:{ip}:{window_start}, give the key an expiry of at most "
    "the window, and compare the new count with the limit.",
)
RATE_LIMIT_WINDOW = Hint(
    "Part 3 · Fixed-window rate limiting",
    "window_start is int(now // window_s) * window_s: every attempt inside one window shares one key, "
    "and a new window starts a new count.",
)
LOCK_HOLDER_UNTOUCHED = Hint(
    "Part 3 · Locks with SET NX PX",
    "A refused attempt must leave the holder's lock as it is, owner and expiry: only the SET NX that wins "
    "may set the expiry (an EXPIRE sent regardless also runs when NX fails).",
)
RATE_LIMIT_NOW = Hint(
    "Part 3 · Fixed-window rate limiting",
    "When no time is passed in, count the attempt in the window of the current time (time.time()).",
)

# --- Part 4.2: lists (capped_list.py) ------------------------------------------------------------

LIST_PUSH_TRIM = Hint(
    "Part 4.2 · Capped lists",
    "LPUSH puts the newest event at the front; LTRIM 0 cap-1 keeps only the newest cap events.",
)
LIST_ONE_ROUND_TRIP = Hint(
    "Part 4.2 · Capped lists",
    "Send LPUSH and LTRIM together in one pipeline (or MULTI) so the feed is trimmed in one round trip.",
)
LIST_RANGE = Hint(
    "Part 4.2 · Reading a list",
    "LRANGE key 0 n-1 returns the newest n events, newest first, without reading the rest of the list.",
)
LIST_LEN = Hint("Part 4.2 · Reading a list", "LLEN counts the elements of a list; a missing key has length 0.")
QUEUE_FIFO = Hint(
    "Part 4.2 · Queues",
    "A FIFO queue pushes at one end and pops at the other: RPUSH to enqueue, LPOP to dequeue; "
    "store jobs as JSON strings.",
)
QUEUE_ATOMIC_POP = Hint(
    "Part 4.2 · Queues",
    "Reading a job and removing it in two steps lets two workers take the same job; LPOP does both at once.",
)
QUEUE_EMPTY = Hint(
    "Part 4.2 · Queues",
    "LPOP on an empty or missing list returns nothing: return None then, and leave the queue key alone.",
)

# --- Part 4.3: sets (set_analytics.py) -----------------------------------------------------------

SET_ADD = Hint(
    "Part 4.3 · Sets",
    "SADD returns how many members were new: 1 means this is the user's first visit that day.",
)
SET_TTL = Hint(
    "Part 4.3 · Sets with expiry",
    "Refresh the key's expiry (EXPIRE) on every visit, so a day's set lives VISITOR_TTL_S after its latest visit.",
)
SET_CARD = Hint("Part 4.3 · Sets", "SCARD counts the members of a set on the server; a missing set has 0.")
SET_MEMBER = Hint(
    "Part 4.3 · Sets",
    "SISMEMBER answers membership in O(1); fetching the whole set with SMEMBERS to test one user does not scale.",
)
SET_INTER = Hint(
    "Part 4.3 · Set algebra",
    "SINTER over the days' keys computes 'every day' on the server; with no days the answer is the empty set.",
)
SET_UNION = Hint("Part 4.3 · Set algebra", "SUNION over the days' keys computes 'any day' on the server.")
SET_DIFF = Hint(
    "Part 4.3 · Set algebra",
    "SDIFF before after keeps the members of the first set that are missing from the second; order matters.",
)
SET_SERVER_SIDE = Hint(
    "Part 4.3 · Set algebra",
    "Let Redis combine the sets (SINTER/SUNION/SDIFF) instead of downloading every set and combining in Python.",
)
SET_ALGEBRA_EXACT = Hint(
    "Part 4.3 · Set algebra",
    "SINTER, SUNION and SDIFF (the first set minus the others) are exact on sets of any size; "
    "one SSCAN page is not the whole set.",
)
SET_RESULT = Hint(
    "Part 4.3 · Set algebra",
    "Return the members as a Python set of str (what redis-py gives for SINTER/SUNION/SDIFF), not a list.",
)

# --- Part 4.4: sorted sets (leaderboard.py) ------------------------------------------------------

ZSET_INCR = Hint(
    "Part 4.4 · Sorted sets",
    "ZINCRBY adds to a member's score on the server and returns the new score as a float.",
)
ZSET_ATOMIC = Hint(
    "Part 4.4 · Sorted sets",
    "Reading a score and writing it back loses points when players score at once; ZINCRBY is atomic.",
)
ZSET_SET = Hint("Part 4.4 · Sorted sets", "ZADD sets a member's score outright, replacing any previous score.")
ZSET_TOP = Hint(
    "Part 4.4 · Leaderboards",
    "ZREVRANGE key 0 n-1 WITHSCORES returns the best n, highest first, ties as the server orders them; "
    "return (player, float score) pairs.",
)
ZSET_RANK = Hint(
    "Part 4.4 · Leaderboards",
    "ZREVRANK is 0-based from the top: add 1 for 'you are #k', and return None for an unknown player.",
)
ZSET_SCORE = Hint("Part 4.4 · Sorted sets", "ZSCORE returns the score as a float, or nothing for an unknown member.")
ZSET_RANGE_BY_SCORE = Hint(
    "Part 4.4 · Range queries",
    "ZRANGEBYSCORE key low high WITHSCORES is inclusive at both ends and returns the lowest scores first.",
)
ZSET_PRIORITY_QUEUE = Hint(
    "Part 4.4 · Priority queues",
    "A sorted set is a priority queue: ZADD with the priority as score, ZPOPMIN removes the most urgent task.",
)
ZSET_ATOMIC_POP = Hint(
    "Part 4.4 · Priority queues",
    "Reading the first task and removing it in two steps lets two workers take the same task; ZPOPMIN is atomic.",
)
ZSET_KEYS = Hint(
    "Part 4.4 · Sorted sets",
    "Keep each board in the sorted set leaderboard:{board} and each queue in tasks:{queue}, named as the spec says.",
)
ZSET_TOP_BOUNDS = Hint(
    "Part 4.4 · Leaderboards",
    "ZREVRANGE's stop index is inclusive and -1 means 'the last one': asking for no players must give an empty "
    "list, and asking for more players than the board holds gives them all.",
)

# --- Parts 1.4, 4.1, 5: TTL, cache-aside, sessions (ttl_cache.py) --------------------------------

CACHE_SET_EX = Hint(
    "Part 1.4 · Keys with a TTL",
    "SET key value EX ttl creates the value and its expiry in one command, so the key is never left immortal.",
)
CACHE_JSON = Hint(
    "Part 5 · Caching",
    "Cache values as JSON strings (json.dumps on write, json.loads on read); a miss returns None.",
)
CACHE_ASIDE = Hint(
    "Part 5 · Cache-aside",
    "Cache-aside: try the cache, and only on a miss call the loader once, store its result with a TTL, return it.",
)
CACHE_ASIDE_NONE = Hint(
    "Part 5 · Cache-aside",
    "Do not cache a None result, and if the loader raises, let the error propagate and cache nothing.",
)
CACHE_DEGRADE = Hint(
    "Part 5 · Cache-aside",
    "If Redis is down (ConnectionError, TimeoutError) the app must still answer: fall back to the loader.",
)
CACHE_INVALIDATE = Hint("Part 5 · Invalidation", "DEL returns how many keys it removed: 1 means the key existed.")
IMMORTAL_KEYS = Hint(
    "Part 1.4 · Keys with a TTL",
    "TTL -1 means a key has no expiry; walk the matching keys with SCAN (not KEYS) and check each TTL.",
)
IMMORTAL_SCAN_CURSOR = Hint(
    "Part 1.4 · Keys with a TTL",
    "SCAN returns one page of keys and a cursor: keep calling it until the cursor comes back 0 "
    "(scan_iter does this for you).",
)
SESSION_HASH = Hint(
    "Part 4.1 · Hashes",
    "Store a session as a hash (HSET with a mapping) under session:{id}, and read it back with HGETALL.",
)
SESSION_ATOMIC = Hint(
    "Part 5 · Sessions",
    "Create the hash and its expiry atomically: HSET and EXPIRE inside one MULTI/EXEC transaction.",
)
SESSION_MISSING = Hint(
    "Part 4.1 · Hashes",
    "HGETALL of a missing key returns an empty hash; report a gone session as None.",
)
SESSION_TOUCH = Hint(
    "Part 5 · Sessions",
    "Sliding expiry: EXPIRE resets the TTL and returns whether the key existed.",
)
