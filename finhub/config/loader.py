"""Loading settings: defaults, then an optional ``finhub.toml``, then ``FINHUB_*`` environment variables.

Every key has a type and a check. A bad value stops start-up with a :class:`SettingsError`
whose message is one line naming the key and the problem. Secrets (API keys, passwords inside
URLs) are wrapped in :class:`Secret` so they never show in logs, errors or ``repr``.

Environment variable names are ``FINHUB_`` plus the key path in upper case, with the
``providers`` section left out: ``schedule.crypto_quotes`` is ``FINHUB_SCHEDULE_CRYPTO_QUOTES``,
``providers.yahoo.url`` is ``FINHUB_YAHOO_URL``. ``FINHUB_CONFIG`` names the TOML file
(default ``finhub.toml`` in the working directory).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from finhub.config.schema import Settings, SettingsError
from finhub.config.secrets import Secret, SecretUrl

#: Environment variable naming the TOML file.
CONFIG_ENV = "FINHUB_CONFIG"
#: TOML file read when ``FINHUB_CONFIG`` is not set (missing is fine).
DEFAULT_CONFIG_FILE = "finhub.toml"
#: Prefix of every environment variable finhub reads.
ENV_PREFIX = "FINHUB_"
#: ``FINHUB_*`` variables that are not settings keys (read elsewhere), so not typos.
NON_SETTING_VARIABLES = frozenset({CONFIG_ENV, "FINHUB_PYTHON"})


def load_settings(
    config_file: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build :class:`Settings` from defaults, the TOML file and the environment.

    ``config_file`` defaults to ``$FINHUB_CONFIG`` or ``finhub.toml`` if it exists; a file named
    explicitly must exist. Raises :class:`SettingsError` on the first bad key.
    """
    environ = os.environ if environ is None else environ
    explicit = config_file if config_file is not None else environ.get(CONFIG_ENV)
    path = Path(explicit) if explicit else Path(DEFAULT_CONFIG_FILE)
    data: dict[str, Any] = {}
    if explicit or path.exists():
        data = _read_toml(path)
    env_values = _read_env(environ)
    return _build(Settings(), data, env_values, prefix="", origin=str(path))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(CONFIG_ENV, f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError("(file)", f"not valid TOML: {exc}", origin=str(path)) from None


def _env_names(cls: type, prefix: str = "") -> dict[str, str]:
    """Map ``FINHUB_…`` names to dotted key paths for every scalar setting."""
    names: dict[str, str] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            names.update(_env_names(hints[f.name], f"{path}."))
        elif not _is_collection(hints[f.name]):
            env_path = path.removeprefix("providers.")
            names[ENV_PREFIX + env_path.replace(".", "_").upper()] = path
    return names


def _read_env(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Map dotted key paths to (variable name, value) for every ``FINHUB_*`` variable set."""
    known = _env_names(Settings)
    values = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in NON_SETTING_VARIABLES:
            continue
        if name not in known:
            raise SettingsError(name, "unknown environment variable (typo?)", origin="environment")
        values[known[name]] = (name, value)
    return values


def _build(default: Any, data: Any, env: dict[str, tuple[str, str]], prefix: str, origin: str):
    """``default`` (a settings dataclass instance) with the file's and the environment's values applied."""
    cls = type(default)
    if not isinstance(data, dict):
        raise SettingsError(prefix.rstrip(".") or "(file)", "must be a table", origin)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise SettingsError(f"{prefix}{key}", "unknown key", origin)
    kwargs = {}
    for name, f in fields.items():
        path = f"{prefix}{name}"
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(getattr(default, name), data.get(name, {}), env, f"{path}.", origin)
        elif path in env:
            env_name, raw = env[path]
            kwargs[name] = _convert(env_name, raw, hint, f.metadata, "environment", from_env=True)
        elif name in data:
            kwargs[name] = _convert(path, data[name], hint, f.metadata, origin, from_env=False)
    try:
        return dataclasses.replace(default, **kwargs)
    except SettingsError as exc:  # a check across keys (``__post_init__``): say where the values came from
        raise SettingsError(exc.key, exc.problem, exc.origin or origin) from None


def _unwrap_optional(hint: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _is_collection(hint: Any) -> bool:
    return typing.get_origin(hint) is list or hint is dict


def _convert(path: str, raw: Any, hint: Any, meta: Mapping, origin: str, from_env: bool) -> Any:
    base = _unwrap_optional(hint)
    if meta.get("secret") and from_env and raw == "":
        return None
    if typing.get_origin(base) is Literal:
        if raw not in typing.get_args(base):
            choices = ", ".join(repr(c) for c in typing.get_args(base))
            raise SettingsError(path, f"must be one of {choices}", origin)
        value = raw
    elif _is_collection(base):
        wanted = dict if base is dict else list
        if not isinstance(raw, wanted):
            raise SettingsError(path, f"must be a {'table' if base is dict else 'list'}, got {type(raw).__name__}",
                                origin)
        value = raw
    elif base is bool:
        value = _flag(path, raw, origin, from_env)
    elif base in (int, float):
        value = _number(path, raw, base, origin, from_env)
    else:  # str, Secret, SecretUrl
        if not isinstance(raw, str):
            raise SettingsError(path, f"must be a string, got {type(raw).__name__}", origin)
        value = raw
    check = meta.get("check")
    if check is not None:
        problem = check(value)
        if problem:
            # Never echo a secret back in the error.
            if meta.get("secret"):
                problem = problem.split(", got ")[0]
            raise SettingsError(path, problem, origin)
    if base is SecretUrl:
        return SecretUrl(value)
    if base is Secret:
        return Secret(value)
    return value


def _flag(path: str, raw: Any, origin: str, from_env: bool) -> bool:
    if from_env and raw.lower() in ("true", "1", "yes", "false", "0", "no"):
        return raw.lower() in ("true", "1", "yes")
    if not from_env and isinstance(raw, bool):
        return raw
    raise SettingsError(path, f"must be true or false, got {raw!r}", origin)


def _number(path: str, raw: Any, kind: type, origin: str, from_env: bool):
    if from_env:
        try:
            return kind(raw)
        except ValueError:
            raise SettingsError(path, f"must be {'an integer' if kind is int else 'a number'}, "
                                      f"got {raw!r}", origin) from None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or (kind is int and isinstance(raw, float)):
        wanted = "an integer" if kind is int else "a number"
        raise SettingsError(path, f"must be {wanted}, got {type(raw).__name__} {raw!r}", origin)
    return kind(raw)


def describe() -> list[tuple[str, str, str, str]]:
    """Rows of (key, environment variable, default, description) for documentation."""
    by_path = {path: env for env, path in _env_names(Settings).items()}
    rows = []

    def walk(cls: type, instance: Any, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            path = f"{prefix}{f.name}"
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name], getattr(instance, f.name), f"{path}.")
            else:
                default = getattr(instance, f.name)
                rows.append((path, by_path.get(path, "(toml only)"),
                             "" if default is None else repr(default), f.metadata.get("doc", "")))

    walk(Settings, Settings(), "")
    return rows
