"""`finhub export` and `finhub.read_prices`: a backfilled year comes back from Parquet, CSV and the
DataFrame with exactly the table's rows and values, typed; a second export appends or replaces only
what changed and says which; bad input is one line and a non-zero exit."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

import finhub
from finhub import cli
from finhub.storage import migrate, prices, upsert_prices
from finhub.storage.frames import COLUMNS, Reader, ReadError
from tests.history.helpers import backfill

NAMES = [name for name, _ in COLUMNS]
TIMES = ["timestamp", "updated_at"]
FLOATS = ["open", "high", "low", "price", "volume", "market_cap", "max_deviation_pct"]


def export(capsys, *args):
    status = cli.main(["export", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def table(engine, symbols) -> pd.DataFrame:
    """The history table's rows of ``symbols`` (1d), by symbol and time, as stored."""
    query = (select(*(prices.c[n] for n in NAMES)).where(prices.c.symbol.in_(symbols), prices.c.interval == "1d")
             .order_by(prices.c.symbol, prices.c.timestamp))
    with engine.connect() as c:
        frame = pd.DataFrame([tuple(r) for r in c.execute(query)], columns=NAMES)
    for column in TIMES:
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
    for column in FLOATS:
        frame[column] = frame[column].astype("float64")
    return frame


def read_csv(path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in FLOATS},
                        dtype={c: "float64" for c in FLOATS})  # CSV carries no types: the reader names them
    for column in TIMES:
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
    return frame


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.columns) == NAMES
    for column in TIMES:
        assert str(actual[column].dtype) == "datetime64[us, UTC]"
    for column in FLOATS:
        assert actual[column].dtype == "float64"
    pd.testing.assert_frame_equal(actual.reset_index(drop=True), expected, check_dtype=False, check_exact=True)


@pytest.mark.slow
def test_a_backfilled_year_round_trips_through_parquet_csv_and_read_prices(env, database, sandbox, capsys,
                                                                           tmp_path):
    year = 2019 if database.dialect.name == "sqlite" else 2018
    status, out, _ = backfill(capsys, "--symbols", "AAPL,BTC", "--start", f"{year}-01-01", "--end",
                              f"{year}-12-31", "--sync")
    assert status == 0, out
    expected = table(database, ["AAPL", "BTC"])
    assert len(expected) > 600                                   # ~252 sessions and 365 days

    status, out, err = export(capsys, "--out", str(tmp_path / "pq"))
    assert status == 0, err
    assert "2 written" in out
    parts = [pd.read_parquet(tmp_path / "pq" / s / f"{s}.1d.parquet") for s in ("AAPL", "BTC")]
    assert_same(pd.concat(parts), expected)

    status, out, err = export(capsys, "--out", str(tmp_path / "csv"), "--format", "csv")
    assert status == 0, err
    assert_same(pd.concat([read_csv(tmp_path / "csv" / s / f"{s}.1d.csv") for s in ("AAPL", "BTC")]), expected)

    status, out, err = export(capsys, "--out", str(tmp_path / "one"), "--layout", "single")
    assert status == 0, err
    assert_same(pd.read_parquet(tmp_path / "one" / "prices.1d.parquet"), expected)

    assert_same(finhub.read_prices(["AAPL", "BTC"], "1d"), expected)
    june = finhub.read_prices("AAPL", "1d", f"{year}-06-01", f"{year}-07-01")
    assert_same(june, expected[(expected.symbol == "AAPL") & (expected.timestamp.dt.month == 6)
                               & (expected.timestamp.dt.year == year)].reset_index(drop=True))


@pytest.fixture
def stored(database):
    """The database, migrated, for rows written here rather than by a backfill."""
    migrate(database)
    return database


def bar(symbol: str, day: int, price: float) -> dict:
    return {"symbol": symbol, "asset_type": "stock", "interval": "1d", "source": "yahoo", "price": price,
            "timestamp": datetime(2024, 1, 1, 21, tzinfo=UTC) + timedelta(days=day), "volume": 1e6,
            "validation_status": "validated", "sources": "yahoo,alphavantage", "max_deviation_pct": 0.25}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_second_export_appends_new_rows_and_replaces_only_changed_files(stored, tmp_path, capsys, fmt):
    upsert_prices(stored, [bar(s, d, 100 + d / 7) for s in ("AAPL", "MSFT", "IBM") for d in range(30)])
    out = str(tmp_path / "data")
    status, said, _ = export(capsys, "--out", out, "--format", fmt)
    assert status == 0 and "3 written" in said

    status, said, _ = export(capsys, "--out", out, "--format", fmt)
    assert status == 0 and "0 rows written" in said and "3 unchanged" in said

    upsert_prices(stored, [bar("AAPL", d, 200.0) for d in (30, 31)])     # two new days
    upsert_prices(stored, [bar("MSFT", 5, 1.5)])                          # a corrected old day
    status, said, _ = export(capsys, "--out", out, "--format", fmt)
    assert status == 0
    assert f"appended  {out}/AAPL/AAPL.1d.{fmt} (+2 rows)" in said
    assert f"replaced  {out}/MSFT/MSFT.1d.{fmt} (+30 rows)" in said
    assert "1 unchanged" in said and "IBM" not in said

    read = pd.read_parquet if fmt == "parquet" else read_csv
    for symbol in ("AAPL", "MSFT", "IBM"):
        assert_same(read(tmp_path / "data" / symbol / f"{symbol}.1d.{fmt}"), table(stored, [symbol]))


@pytest.mark.parametrize("args, message", [
    (["--symbols", "AAPL,ZZZ"], "finhub: no 1d rows stored for ZZZ\n"),
    (["--symbols", "AAPL", "--start", "2030-01-01"], "finhub: no 1d rows stored for AAPL from 2030-01-01 to now\n"),
    (["--start", "01/02/2024"], "finhub: --start must be a date YYYY-MM-DD, got '01/02/2024'\n"),
    (["--symbols", "aapl;drop"], "finhub: not a symbol: AAPL;DROP (letters and digits, like AAPL, BTC or BRK.B)\n"),
    (["--out", "{file}/sub"], "finhub: cannot write to {file}/sub: Not a directory\n"),
])
def test_bad_input_is_one_line_and_a_failure_and_writes_nothing(stored, tmp_path, capsys, args, message):
    upsert_prices(stored, [bar("AAPL", d, 100.0) for d in range(3)])
    (tmp_path / "file").write_text("not a directory")
    args = [a.replace("{file}", str(tmp_path / "file")) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "data")]
    status, out, err = export(capsys, *args)
    assert (status, out, err) == (1, "", message.replace("{file}", str(tmp_path / "file")))
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_read_prices_names_a_symbol_without_rows(stored):
    upsert_prices(stored, [bar("AAPL", d, 100.0) for d in range(3)])
    assert len(finhub.read_prices("AAPL")) == 3
    with pytest.raises(LookupError, match="no 1d rows stored for NOPE"):
        finhub.read_prices(["AAPL", "NOPE"])


@pytest.mark.slow  # starts worker processes
def test_parallel_jobs_write_the_same_files_and_a_rerun_leaves_them(stored, tmp_path, capsys):
    symbols = [f"S{i:02d}" for i in range(12)]
    upsert_prices(stored, [bar(s, d, 50 + d + i) for i, s in enumerate(symbols) for d in range(40)])
    status, said, err = export(capsys, "--out", str(tmp_path / "two"), "--jobs", "2")
    assert status == 0, err
    assert "12 file(s), 480 rows written (12 written" in said
    for symbol in symbols:
        assert_same(pd.read_parquet(tmp_path / "two" / symbol / f"{symbol}.1d.parquet"), table(stored, [symbol]))
    status, said, _ = export(capsys, "--out", str(tmp_path / "two"), "--jobs", "2")
    assert status == 0 and "0 rows written" in said and "12 unchanged" in said


def test_a_database_failing_mid_read_is_a_read_error_and_one_line(database, tmp_path, capsys, monkeypatch):
    with Reader(database) as reader, pytest.raises(ReadError, match="assets_assetpriceshistoric"):
        list(reader.batches("AAPL", "1d"))                          # not migrated: no table to read
    monkeypatch.setenv("FINHUB_DATABASE_URL", "postgresql://finhub:s3cret@127.0.0.1:1/none")
    status, out, err = export(capsys, "--out", str(tmp_path / "data"))
    assert status == 1 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("finhub: database error (") and "s3cret" not in err
