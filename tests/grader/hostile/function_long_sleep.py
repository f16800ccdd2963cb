"""set_analytics: time.sleep(1000) in unique_visitors (a forgotten debugging pause)."""

import time


def unique_visitors(r, day):
    time.sleep(1000)
    return 0
