"""Changing finhub.toml's ``[assets]`` in place, keeping the user's comments and formatting.

tomlkit round-trips the file: only the entries added (or marked) change. The new text is checked
(it must still parse and give a valid universe) before it replaces the file, and it is written to
a temporary file beside it first, so a failure at any point leaves finhub.toml as it was.
"""

from __future__ import annotations

import os
import tomllib
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path

import tomlkit
from tomlkit.items import AoT, Array, Table

from finhub.config.schema import SettingsError


def add_assets(path: Path, stocks: Sequence[Mapping[str, str]] = (), cryptos: Sequence[Mapping[str, str]] = (),
               delisted: Mapping[str, date] | None = None, check: Callable[[dict], None] | None = None) -> None:
    """Append ``stocks`` and ``cryptos`` entries to ``path``'s ``[assets]`` (creating the file or the
    table as needed) and set ``delisted = DAY`` on the configured stock entries ``delisted`` names.

    ``check(parsed)`` is called with the new file's content before it replaces the old; whatever it
    raises leaves the file untouched. A ``[assets]`` whose lists are not lists raises SettingsError.
    """
    text = path.read_text() if path.exists() else ""
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise SettingsError("(file)", f"not valid TOML: {exc}", origin=str(path)) from None
    assets = document.get("assets")
    if assets is None:
        assets = tomlkit.table()
        document["assets"] = assets
    if not isinstance(assets, Table):
        raise SettingsError("assets", "is not a table: cannot add to it", origin=str(path))
    for key, entries in (("stocks", stocks), ("cryptos", cryptos)):
        if entries:
            _append(assets, key, entries, str(path))
    for entry in _entries(assets, "stocks"):
        if entry.get("symbol") in (delisted or {}):
            entry["delisted"] = delisted[entry["symbol"]]  # type: ignore[index]  # checked just above
    new_text = tomlkit.dumps(document)
    if check is not None:
        check(tomllib.loads(new_text))
    _replace(path, new_text)


def _append(assets: Table, key: str, entries: Sequence[Mapping[str, str]], origin: str) -> None:
    existing = assets.get(key)
    if existing is None:
        existing = tomlkit.array()
        existing.multiline(True)
        assets[key] = existing
    if isinstance(existing, AoT):  # [[assets.stocks]] tables
        for entry in entries:
            table = tomlkit.table()
            table.update(entry)
            existing.append(table)
    elif isinstance(existing, Array):
        for entry in entries:
            inline = tomlkit.inline_table()
            inline.update(entry)
            existing.append(inline)
    else:
        raise SettingsError(f"assets.{key}", "is not a list: cannot add to it", origin=origin)


def _entries(assets: Table, key: str) -> list:
    existing = assets.get(key)
    return [e for e in existing if isinstance(e, dict)] if isinstance(existing, AoT | Array) else []


def _replace(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it over ``path`` (atomic on one file system)."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temporary.write_text(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
