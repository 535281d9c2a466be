"""``finhub COMMAND`` (or ``python -m finhub COMMAND``): the command-line entry point.

Each command lives in its own module under :mod:`finhub.commands` and exposes ``register(subparsers)``,
which adds its sub-parser and sets ``func(args, settings) -> int`` as the default.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from finhub.config import SettingsError, load_settings
from finhub.logs import configure_logging

#: Command modules, in the order ``--help`` lists them.
COMMANDS = (
    "finhub.commands.config",
    "finhub.commands.universe",
    "finhub.commands.plan",
    "finhub.commands.status",
    "finhub.commands.prices",
    "finhub.commands.rankings",
    "finhub.commands.backfill",
    "finhub.commands.quarantine",
    "finhub.commands.trigger",
    "finhub.commands.workers",
    "finhub.commands.web",
    "finhub.commands.actions",
    "finhub.commands.export",
    "finhub.commands.discover",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finhub", description="finhub market-data collector")
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (default: $FINHUB_CONFIG or finhub.toml)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, load settings, run the command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"finhub: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        status = args.func(args, settings)
        sys.stdout.flush()   # inside the try: a closed pipe met at the final flush is handled too
        return status
    except SettingsError as exc:
        print(f"finhub: configuration error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader left (``finhub universe | head``): stop quietly, as other filters do; stdout goes to
        # /dev/null so the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
