"""``python -m finhub config``: the effective settings (secrets masked) or the table of every key."""

from __future__ import annotations

import dataclasses

from finhub.config import describe


def register(subparsers) -> None:
    parser = subparsers.add_parser("config", help="show the effective settings (secrets masked)")
    parser.add_argument("--keys", action="store_true", help="list every key, its variable and default")
    parser.add_argument("--markdown", action="store_true", help="the same list as the table in docs/configuration.md")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    if args.markdown:
        print("| key | environment variable | default | meaning |\n|---|---|---|---|")
        for key, env, default, doc in describe():
            print(f"| `{key}` | `{env}` | {f'`{default}`' if default else '—'} | {doc} |")
        return 0
    if args.keys:
        for key, env, default, doc in describe():
            print(f"{key:34} {env:36} {default:12} {doc}")
        return 0
    _print(settings, "")
    effective = settings.database if settings.database_url is None else settings.database_url
    print(f"{'database (effective)':34} {effective}")
    return 0


def _print(obj, prefix: str) -> None:
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            _print(value, f"{prefix}{field.name}.")
        else:
            print(f"{prefix + field.name:34} {value}")
