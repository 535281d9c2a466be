"""Helpers shared by the history tests."""

from finhub import cli


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
