"""One module per ``finhub`` command; see :mod:`finhub.cli`."""

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """``2026-11-20T15:00:00Z``: how the commands print a moment."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
