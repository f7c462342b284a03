"""Settings: `[tool.dbleak]` in pyproject.toml or `dbleak.toml`, merged with command-line options."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class ConfigError(Exception):
    """A configuration file or option is invalid; the message names the file and the key."""


DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints",
    ".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache",
    ".svn", ".tox", ".venv", ".vscode", "__pypackages__", "_build", "buck-out", "dist",
    "node_modules", "site-packages", "venv", ".dbleak_cache", "__pycache__",
)

TARGET_VERSIONS = ("py38", "py39", "py310", "py311", "py312", "py313", "py314")


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def one_of(*choices: str) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        return value in choices

    check.__doc__ = "one of " + ", ".join(repr(c) for c in choices)
    return check


_TYPE_NAMES: dict[Callable[[object], bool], str] = {
    _is_str_list: "a list of strings",
    _is_bool: "true or false",
    _is_positive_int: "a positive integer",
}


def _describe(check: Callable[[object], bool]) -> str:
    return _TYPE_NAMES.get(check) or check.__doc__ or "a valid value"


# Options of the rule families, one sub-table each: `[tool.dbleak.<family>]`.
# Each maps a kebab-case key to a validator; the family's modules register their keys here.
FAMILY_OPTIONS: dict[str, dict[str, Callable[[object], bool]]] = {
    "lifecycle": {
        "unknown-calls": one_of("evidence", "hand-over", "borrow"),
        "factories": _is_str_list,
    },
    "sql": {
        "unresolved": one_of("ignore", "report"),
        "small-tables": _is_str_list,
        "bounded-columns": _is_str_list,
        "per-parent": one_of("ignore", "report"),
        "grouped": one_of("ignore", "report"),
        "returned": one_of("ignore", "report"),
        "root-tables": one_of("report", "small"),
        "chunk-size": _is_positive_int,
    },
    "materialization": {},
}

# Sub-tables whose content another module validates (e.g. the driver table's user entries).
# Maps the table name to a function that raises ValueError with a message on a bad entry.
TABLE_VALIDATORS: dict[str, Callable[[Mapping[str, Any]], None]] = {}

_TOP_LEVEL: dict[str, Callable[[object], bool]] = {
    "select": _is_str_list,
    "extend-select": _is_str_list,
    "ignore": _is_str_list,
    "exclude": _is_str_list,
    "extend-exclude": _is_str_list,
    "respect-gitignore": _is_bool,
    "target-version": one_of(*TARGET_VERSIONS),
    "per-file-ignores": lambda v: isinstance(v, dict) and all(_is_str_list(x) for x in v.values()),
}
_TYPE_NAMES[_TOP_LEVEL["per-file-ignores"]] = "a table of glob = [codes]"


@dataclass(frozen=True)
class Settings:
    """Everything that decides what a run checks and reports. Frozen; derive with ``replace``."""

    select: tuple[str, ...] = ("DBL",)
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    target_version: str = "py310"
    # Family options, kebab-case keys as in the file, frozen mappings.
    lifecycle: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    sql: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    materialization: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    drivers: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # The folder the config came from (globs in per-file-ignores/exclude are relative to it).
    root: str = "."
    config_path: str | None = None

    def option(self, family: str, key: str, default: Any = None) -> Any:
        """A family option (e.g. ``option("sql", "chunk-size", 1000)``)."""
        table = getattr(self, family)
        return table.get(key, default)

    def cache_key(self) -> str:
        return repr(self)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def read_config_file(path: Path) -> dict[str, Any] | None:
    """The `[tool.dbleak]` table of a pyproject.toml, or the whole of a dbleak.toml.

    Returns None for a pyproject.toml without the table.
    """
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start} is not UTF-8") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("dbleak") if isinstance(tool, dict) else None
        if table is None:
            return None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: `tool.dbleak` must be a table")
        return table
    tool = data.get("tool")
    if isinstance(tool, dict) and "dbleak" in tool and len(data) == 1:
        data = tool["dbleak"]
    return data


def settings_from_table(table: Mapping[str, Any], path: Path, base: Settings | None = None) -> Settings:
    """Validate a config table and turn it into Settings. Unknown keys and wrong types are errors."""
    base = base or Settings()
    changes: dict[str, Any] = {}
    families = set(FAMILY_OPTIONS) | set(TABLE_VALIDATORS) | {"drivers"}
    for key, value in table.items():
        if key in _TOP_LEVEL:
            check = _TOP_LEVEL[key]
            if not check(value):
                raise ConfigError(
                    f"{path}: `{key}` must be {_describe(check)}, got {value!r}"
                )
            attr = key.replace("-", "_")
            if key == "per-file-ignores":
                changes[attr] = tuple((glob, tuple(codes)) for glob, codes in value.items())
            elif isinstance(value, list):
                changes[attr] = tuple(value)
            else:
                changes[attr] = value
        elif key in families:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: `{key}` must be a table ([tool.dbleak.{key}])")
            if key in TABLE_VALIDATORS:
                try:
                    TABLE_VALIDATORS[key](value)
                except ValueError as exc:
                    raise ConfigError(f"{path}: [tool.dbleak.{key}]: {exc}") from None
            else:
                options = FAMILY_OPTIONS.get(key, {})
                for sub, subvalue in value.items():
                    if sub not in options:
                        known = ", ".join(sorted(options)) or "none"
                        raise ConfigError(
                            f"{path}: unknown key `{key}.{sub}` (known keys: {known})"
                        )
                    if not options[sub](subvalue):
                        raise ConfigError(
                            f"{path}: `{key}.{sub}` must be {_describe(options[sub])}, "
                            f"got {subvalue!r}"
                        )
            changes[key] = _freeze(value)
        else:
            known = ", ".join(sorted([*_TOP_LEVEL, *families]))
            raise ConfigError(f"{path}: unknown key `{key}` (known keys: {known})")
    for code_key in ("select", "extend_select", "ignore"):
        for code in changes.get(code_key, ()):
            _check_code_selector(code, f"{path}: `{code_key.replace('_', '-')}`")
    for _, codes in changes.get("per_file_ignores", ()):
        for code in codes:
            _check_code_selector(code, f"{path}: `per-file-ignores`")
    return replace(base, **changes, root=str(path.parent), config_path=str(path))


def _check_code_selector(code: str, where: str) -> None:
    from dbleak.registry import is_valid_selector

    if not is_valid_selector(code):
        raise ConfigError(f"{where}: unknown rule code or prefix {code!r}")


CONFIG_NAMES = ("dbleak.toml", "pyproject.toml")


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; False when its folder cannot be searched (the walk reports
    that folder, and files in it cannot be read anyway)."""
    try:
        return path.is_file()
    except OSError:
        return False


class ConfigResolver:
    """Finds the settings for each file: the nearest config walking up, cached per folder."""

    def __init__(self, explicit: Path | None = None, isolated: bool = False,
                 overrides: Callable[[Settings], Settings] | None = None) -> None:
        self._overrides = overrides or (lambda s: s)
        self._isolated = isolated
        self._by_dir: dict[Path, Settings] = {}
        self._explicit: Settings | None = None
        if explicit is not None:
            table = read_config_file(explicit)
            self._explicit = self._overrides(
                settings_from_table(table or {}, explicit.resolve())
            )
        self._default = self._overrides(Settings(root=str(Path.cwd())))

    def for_path(self, path: Path) -> Settings:
        if self._explicit is not None:
            return self._explicit
        if self._isolated:
            return self._default
        try:
            is_dir = path.is_dir()
        except OSError:  # inside a folder that cannot be searched
            is_dir = False
        folder = path.resolve() if is_dir else path.resolve().parent
        return self._for_dir(folder)

    def _for_dir(self, folder: Path) -> Settings:
        cached = self._by_dir.get(folder)
        if cached is not None:
            return cached
        settings: Settings | None = None
        for name in CONFIG_NAMES:
            candidate = folder / name
            if _is_file(candidate):
                table = read_config_file(candidate)
                if table is not None:
                    settings = self._overrides(settings_from_table(table, candidate))
                    break
        if settings is None:
            parent = folder.parent
            settings = self._default if parent == folder else self._for_dir(parent)
        self._by_dir[folder] = settings
        return settings


# The driver table validates `[tool.dbleak.drivers]`; importing it registers its validator.
import dbleak.knowledge.drivers  # noqa: F401
