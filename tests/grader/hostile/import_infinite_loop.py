"""capped_list: an infinite loop at import time, so the module never finishes loading."""

while True:
    pass
