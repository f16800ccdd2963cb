"""leaderboard: unbounded recursion in rank, a deeply nested result in score, an exception whose str() recurses."""


def rank(r, board, player):
    return rank(r, board, player)


def score(r, board, player):
    value = []
    for _ in range(100_000):
        value = [value]
    return value


class Bottomless(Exception):
    def __str__(self):
        return str(self)


def players_between(r, board, low, high):
    raise Bottomless()
