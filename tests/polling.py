"""Waiting for something to happen by polling, never for a fixed time."""

import time


def wait_for(check, timeout, step=0.2):
    """Whether ``check()`` came true within ``timeout`` seconds, asking every ``step`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False
