"""leaderboard: a syntax error after an otherwise correct module, so the whole file fails to compile.

A stray ``break`` dedented out of its loop: CPython refuses the file ("'break' outside loop").
"""


def print_board(board):
    for player in board:
        print(player)


break  # noqa: F701
