"""leaderboard: top returns values too large to send back (a 100 MB string, a million pairs, a 10**5-digit int)."""

_calls = []


def top(r, board, n=10):
    _calls.append(n)
    kind = len(_calls) % 3
    if kind == 0:
        return "x" * (100 * 1024 * 1024)
    if kind == 1:
        return [("player", 1.0)] * 1_000_000
    return [("player", 10**100_000)]
