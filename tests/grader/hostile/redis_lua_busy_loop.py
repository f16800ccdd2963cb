"""leaderboard: pop_most_urgent runs a Lua busy loop with EVAL, which would block the whole server."""


def pop_most_urgent(r, queue):
    r.eval("while true do end", 0)
    popped = r.zpopmin(f"tasks:{queue}")
    return popped[0][0] if popped else None
