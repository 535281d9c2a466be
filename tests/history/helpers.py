"""Helpers shared by the history tests."""

from datetime import UTC, datetime

from sqlalchemy import select

from finhub import cli
from finhub.model import EXCHANGE_TZ
from finhub.storage import prices


def backfill(capsys, *args):
    """``python -m finhub backfill ARGS`` in this process: (exit status, stdout, stderr)."""
    status = cli.main(["backfill", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def chart_calls(sandbox) -> dict[str, int]:
    """History requests the sandbox answered, per provider."""
    calls = sandbox.calls()
    return {"yahoo": calls.get("yahoo", {}).get("/v8/finance/chart", 0),
            "coingecko": calls.get("coingecko", {}).get("/api/v3/coins/{id}/market_chart/range", 0)}


def stored_days(engine, symbol):
    """The trading days of ``symbol``'s stored daily bars, one entry per row."""
    with engine.connect() as c:
        stamps = c.execute(select(prices.c.timestamp).where(prices.c.symbol == symbol,
                                                            prices.c.interval == "1d")).scalars().all()
    zone = EXCHANGE_TZ if symbol in ("AAPL", "MSFT") else UTC
    return [datetime.fromisoformat(s).replace(tzinfo=UTC).astimezone(zone).date() if isinstance(s, str)
            else s.astimezone(zone).date() for s in stamps]
