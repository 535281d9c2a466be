"""``python -m finhub prices``: the newest stored price per symbol, as text and JSON, and --refresh."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from finhub.cli import main
from finhub.storage import upsert_prices

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def quote(symbol, price, minutes=0, asset_type="stock", **extra):
    return {"symbol": symbol, "asset_type": asset_type, "interval": "quote", "price": price, "source": "yahoo",
            "timestamp": T0 - timedelta(minutes=minutes), **extra}


def test_text_lists_each_symbols_newest_price_with_its_source_and_validation(cli_database, capsys):
    upsert_prices(cli_database, [quote("AAPL", 230.5, 5), quote("AAPL", 231.25), quote("DOGE", 0.0712345, 1, "crypto"),
                             quote("BTC", 91234.5, 2, "crypto", source="coingecko", validation_status="validated",
                                   sources="coingecko,yahoo", max_deviation_pct=0.2)])
    assert main(["prices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["symbol", "type", "price"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["AAPL", "stock", "231.25", "2026-11-20T15:00:00Z"],
        ["BTC", "crypto", "91,234.50", "2026-11-20T14:58:00Z"],
        ["DOGE", "crypto", "0.0712345", "2026-11-20T14:59:00Z"]]
    assert lines[2].split()[5:] == ["coingecko", "validated", "(coingecko,yahoo)"]


def test_json_for_given_symbols_and_a_missing_one_is_an_error(cli_database, capsys):
    upsert_prices(cli_database, [quote("AAPL", 231.25), quote("MSFT", 410.0)])
    assert main(["prices", "--json", "msft"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry == {"symbol": "MSFT", "asset_type": "stock", "interval": "quote", "price": 410.0,
                     "timestamp": "2026-11-20T15:00:00Z", "source": "yahoo", "validation_status": "single_source",
                     "sources": ["yahoo"], "max_deviation_pct": None}
    assert main(["prices", "AAPL", "HES"]) == 1
    out, err = capsys.readouterr()
    assert "AAPL" in out and err == "finhub: no stored quote price for HES\n"
    with pytest.raises(SystemExit) as exit:
        main(["prices", "AAPL;DROP"])
    assert exit.value.code == 2 and "not a symbol: 'AAPL;DROP'" in capsys.readouterr().err
    assert main(["prices", "--interval", "1d"]) == 0
    assert capsys.readouterr().out == "no stored 1d prices\n"


def test_refresh_after_deleting_history_rows_by_hand(cli_database, capsys):
    upsert_prices(cli_database, [quote(s, 230.0, 1) for s in ("AAPL", "MSFT")]
                  + [quote(s, 999.0) for s in ("AAPL", "MSFT")] + [dict(quote("AAPL", 5.0, 60 * 24), interval="1d")])
    with cli_database.begin() as c:
        c.execute(text("DELETE FROM assets_assetpriceshistoric WHERE price IN (999.0, 5.0)"))

    def prices(*args):
        assert main(["prices", "--json", *args]) == 0
        return {p["symbol"]: p["price"] for p in json.loads(capsys.readouterr().out)}

    assert prices() == {"AAPL": 999.0, "MSFT": 999.0}  # the copies do not know yet
    assert prices("--refresh", "aapl") == {"AAPL": 230.0}
    assert prices("--interval", "1d") == {}  # every interval of the symbols given
    assert prices() == {"AAPL": 230.0, "MSFT": 999.0}
    assert prices("--refresh") == {"AAPL": 230.0, "MSFT": 230.0}
