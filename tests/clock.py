"""A fake clock for the tests of what takes one (``Breakers``, ``Quotas``): time passes when a test
says so, not while it sleeps."""

import time


class FakeClock:
    """A clock for ``Breakers`` and ``Quotas`` that stands still until the test steps it.

    It starts near the real time, so what it stamps in Redis looks like what production stamps, and
    half-way through a millisecond: ``Quotas`` stamps whole milliseconds, and stepping by a
    ``retry_after`` (whole milliseconds) must not land on a boundary that float rounding could tip.
    """

    def __init__(self) -> None:
        self.now = int(time.time()) + 0.0005

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (only the test thread does)."""
        self.now += seconds
