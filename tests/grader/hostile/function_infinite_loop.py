"""capped_list: an infinite loop in feed_length (the only function its one test calls)."""


def feed_length(r, user_id):
    while True:
        pass
