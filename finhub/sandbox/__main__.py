"""``python -m finhub.sandbox --port N``: run the provider sandbox in the foreground."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from finhub.sandbox import Sandbox
from finhub.sandbox.controls import PROVIDERS, WINDOWS


def _quota(text: str) -> tuple[str, str, int]:
    try:
        provider, rest = text.split(":", 1)
        window, limit = rest.split("=", 1)
        if provider not in PROVIDERS or window not in WINDOWS:
            raise ValueError
        return provider, window, int(limit)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected PROVIDER:WINDOW=N with PROVIDER in {PROVIDERS} and WINDOW in {tuple(WINDOWS)}"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finhub.sandbox", description="offline provider sandbox")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of answers that are 5xx")
    parser.add_argument("--quota", type=_quota, action="append", default=[], metavar="PROVIDER:WINDOW=N",
                        help="e.g. alphavantage:per_day=25 (repeatable)")
    parser.add_argument("--controls", type=json.loads, default={},
                        help='JSON {provider: {control: value}}, e.g. \'{"yahoo": {"skew": {"AAPL": 5}}}\'')
    args = parser.parse_args(argv)
    controls = {p: {"latency": args.latency, "error_rate": args.error_rate, **args.controls.get(p, {})}
                for p in PROVIDERS}
    for provider, window, limit in args.quota:
        controls[provider].setdefault("quotas", {})[window] = limit
    try:
        sandbox = Sandbox(args.port, 1.0, **controls)
    except (OSError, ValueError, TypeError) as exc:
        print(f"sandbox: cannot start: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with sandbox:
        print(f"provider sandbox on {sandbox.url} (admin: {sandbox.url}/_sandbox/stats); to use it:")
        for name, value in sandbox.env().items():
            print(f"export {name}={value}")
        sys.stdout.flush()
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
