"""The recorded provider responses (``recorded/`` beside this module, with their SOURCES.md), and
which request each answers.

Quote-like endpoints take no date, so a sample answers them on the day it was recorded (freeze the
sandbox clock on that day); range endpoints answer when the requested range is the recorded one
(within a day, since clients round dates differently). Bodies are served byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

#: The recorded responses, shipped as package data.
SAMPLES_DIR = Path(__file__).with_name("recorded")
DAY = 86400


@dataclass(frozen=True)
class Sample:
    provider: str
    endpoint: str
    file: str
    keys: frozenset = frozenset()            # symbols / ids asked, exactly
    params: tuple = ()                       # other (name, value) the request must carry
    day: date | None = None                  # recording day for dateless endpoints; None: any day
    span: tuple[int, int] | None = None      # (start, end) epoch seconds for range endpoints
    status: int = 200
    content_type: str = "application/json"


def _s(provider, endpoint, file, keys=(), params=(), day=None, span=None, **kw) -> Sample:
    return Sample(provider, endpoint, file, frozenset(keys), tuple(params), day, span, **kw)


SAMPLES: tuple[Sample, ...] = (
    _s("yahoo", "quote", "yahoo/v7_quote_multi_AAPL_BABA.body.json", {"AAPL", "BABA"}, day=date(2025, 2, 17)),
    _s("yahoo", "quote", "yahoo/v7_quote_BTC-USD.body.json", {"BTC-USD"}, day=date(2025, 2, 17)),
    _s("yahoo", "quote", "yahoo/v7_quote_BRKS_quoteType-NONE.body.json", {"BRKS"}),
    _s("yahoo", "chart", "yahoo/v8_chart_AAPL_1d_2020-01-01_2020-01-03.body.json", {"AAPL"},
       span=(1577836800, 1578009600)),
    _s("yahoo", "chart", "yahoo/v8_chart_AAPL_1d_2020-08-31_2020-11-07.body.json", {"AAPL"},
       span=(1598832000, 1604707200)),
    _s("yahoo", "chart", "yahoo/v8_chart_BTC-USD_1d_2020-01-01_2020-01-03.body.json", {"BTC-USD"},
       span=(1577836800, 1578009600)),
    _s("yahoo", "chart", "yahoo/v8_chart_MSFT_1d_2021-02-01_2022-01-31_div.body.json", {"MSFT"},
       span=(1612137600, 1643587200)),
    _s("coingecko", "simple/price", "coingecko/simple_price_ids-bitcoin_ethereum_vs-usd_myr.json",
       {"bitcoin", "ethereum"}, params=(("vs_currencies", "usd,myr"),), day=date(2019, 4, 8)),
    _s("coingecko", "simple/price", "coingecko/simple_price_ids-bitcoin_include-all.docs-example.json",
       {"bitcoin"}, params=(("vs_currencies", "usd"),), day=date(2024, 3, 25)),
    _s("coingecko", "coins/markets", "coingecko/coins_markets_vs-usd_page1_per_page100_2023-01-08.json",
       params=(("vs_currency", "usd"), ("page", "1"), ("per_page", "100")), day=date(2023, 1, 8)),
    _s("coingecko", "search/trending", "coingecko/search_trending_2025.json", day=date(2025, 5, 13)),
    _s("coingecko", "search/trending", "coingecko/search_trending_2023-01.json", day=date(2023, 1, 8)),
    _s("coingecko", "market_chart/range", "coingecko/coins_id_market_chart.docs-example.json", {"bitcoin"},
       span=(1711843200, 1711983682)),
    _s("alphavantage", "GLOBAL_QUOTE", "alphavantage/GLOBAL_QUOTE_MSFT_2018-10-05.json", {"MSFT"},
       day=date(2018, 10, 5)),
    _s("alphavantage", "GLOBAL_QUOTE", "alphavantage/GLOBAL_QUOTE_IBM_2020-05-08.json", {"IBM"},
       day=date(2020, 5, 8)),
    _s("alphavantage", "TIME_SERIES_DAILY", "alphavantage/TIME_SERIES_DAILY_MSFT_compact_2018-06-08.json",
       {"MSFT"}, params=(("outputsize", "compact"),), day=date(2018, 6, 8)),
    _s("alphavantage", "TIME_SERIES_DAILY", "alphavantage/TIME_SERIES_DAILY_IBM_full_2020-05-08_trimmed.json",
       {"IBM"}, params=(("outputsize", "full"),), day=date(2020, 5, 8)),
    _s("alphavantage", "CURRENCY_EXCHANGE_RATE",
       "alphavantage/CURRENCY_EXCHANGE_RATE_BTC_CNY_2020-05-03_bid-ask.json", {"BTC"},
       params=(("to_currency", "CNY"),), day=date(2020, 5, 3)),
    _s("alphavantage", "CURRENCY_EXCHANGE_RATE", "alphavantage/CURRENCY_EXCHANGE_RATE_BTC_CNY_2017-12-20.json",
       {"BTC"}, params=(("to_currency", "CNY"),), day=date(2017, 12, 20)),
    _s("alphavantage", "CURRENCY_EXCHANGE_RATE", "alphavantage/CURRENCY_EXCHANGE_RATE_EUR_USD_2018-06-23.json",
       {"EUR"}, params=(("to_currency", "USD"),), day=date(2018, 6, 23)),
    _s("alphavantage", "DIGITAL_CURRENCY_DAILY",
       "alphavantage/DIGITAL_CURRENCY_DAILY_BTC_EUR_2025-08-24_trimmed.json", {"BTC"},
       params=(("market", "EUR"),), day=date(2025, 8, 24)),
)

#: Error bodies recorded from the real providers, used when the sandbox answers with an error.
ERROR_BODIES = {
    "coingecko_429": "coingecko/error_429_rate_limited.transcribed.json",
    "coingecko_404": "coingecko/error_404_unknown_coin_id.transcribed.json",
    "alphavantage_information": "alphavantage/RATE_LIMIT_Information_burst_25perDay.transcribed.json",
    "alphavantage_note": "alphavantage/RATE_LIMIT_Note_5perMin_500perDay_legacy.transcribed.json",
    "alphavantage_error": "alphavantage/ERROR_Invalid_API_call_FX_DAILY.transcribed.json",
}
@cache
def read(relative: str) -> bytes:
    """The bytes of one recorded file."""
    return (SAMPLES_DIR / relative).read_bytes()


def error_body(name: str) -> bytes:
    return read(ERROR_BODIES[name])


def find(provider: str, endpoint: str, keys: set[str], params: dict[str, str], today: date,
         span: tuple[int, int] | None = None) -> Sample | None:
    """The recorded sample answering this request, if there is one."""
    for sample in SAMPLES:
        if (sample.provider, sample.endpoint) != (provider, endpoint) or sample.keys != frozenset(keys):
            continue
        if any(_items(params.get(name, "")) != _items(value) for name, value in sample.params):
            continue
        if sample.span is not None:
            if span is None or abs(span[0] - sample.span[0]) > DAY or abs(span[1] - sample.span[1]) > 2 * DAY:
                continue
        elif sample.day is not None and sample.day != today:
            continue
        return sample
    return None


def _items(value: str) -> list[str]:
    return sorted(value.lower().split(","))
