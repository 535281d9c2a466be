"""``python -m finhub quarantine``: recent rejections as text and as JSON, filtered by --since and --limit."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from finhub.cli import main
from finhub.storage import quarantine_rows

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def rejection(symbol, reason, minutes):
    stamp = T0 + timedelta(minutes=minutes)
    return {"symbol": symbol, "asset_type": "crypto", "interval": "quote", "timestamp": stamp, "reason": reason,
            "detail": f"{symbol} detail", "observations": [
                {"provider": "coingecko", "price": 100.0, "timestamp": stamp.isoformat()},
                {"provider": "yahoo", "price": 105.0, "timestamp": stamp.isoformat()}]}


def test_text_lists_the_newest_first_with_every_source_and_the_reason(cli_database, capsys):
    quarantine_rows(cli_database, [rejection("BTC", "disagreement", 0)])
    quarantine_rows(cli_database, [rejection("ETH", "stale", 1)])
    assert main(["quarantine"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["rejected", "at", "symbol"]
    assert lines[1].split()[1:6] == ["ETH", "quote", "2026-11-20T15:01:00Z", "stale", "coingecko"]
    assert lines[1].endswith("coingecko 100.0, yahoo 105.0") and lines[2].strip() == "ETH detail"
    assert lines[3].split()[1] == "BTC" and len(lines) == 5
    assert main(["quarantine", "--limit", "1"]) == 0
    assert "BTC" not in capsys.readouterr().out


def test_json_for_scripts_and_since(cli_database, capsys):
    quarantine_rows(cli_database, [rejection("BTC", "disagreement", 0)])
    assert main(["quarantine", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["symbol"] == "BTC" and entry["reason"] == "disagreement"
    assert entry["timestamp"] == "2026-11-20T15:00:00Z"
    assert entry["sources"] == rejection("BTC", "disagreement", 0)["observations"]
    assert main(["quarantine", "--json", "--since", "2099-01-01"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["quarantine", "--since", "1h"]) == 0
    assert "BTC" in capsys.readouterr().out  # rejected just now
    assert main(["quarantine", "--since", "2099-01-01T00:00"]) == 0
    assert capsys.readouterr().out == "no rejected prices since 2099-01-01T00:00:00Z\n"


def test_a_bad_since_is_one_clear_line(cli_database, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["quarantine", "--since", "yesterday"])
    assert exit_.value.code == 2
    assert "expected a duration like 30m, 6h, 7d or an ISO date/time, got 'yesterday'" in capsys.readouterr().err
