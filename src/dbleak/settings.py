"""Settings: `[tool.dbleak]` in pyproject.toml or `dbleak.toml`, merged with command-line options."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

# tomllib is imported by the two functions that read a file: a run with no configuration
# file (a file checked outside a project) does not load it.


class ConfigError(Exception):
    """A configuration file or option is invalid; the message names the file and the key."""


DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints",
    ".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache",
    ".svn", ".tox", ".venv", ".vscode", "__pypackages__", "_build", "buck-out", "dist",
    "node_modules", "site-packages", "venv", ".dbleak_cache", "__pycache__",
    # Code copied from other projects: its findings are not the project's to fix.
    "vendor", "vendored", "_vendor", "third_party",
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
        "shortcut-cursors": one_of("ignore", "report"),
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
    # `--ignore-noqa` (command line only, as in ruff): no noqa comment suppresses anything.
    ignore_noqa: bool = False

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
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

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


def settings_from_table(table: Mapping[str, Any], path: Path, base: Settings | None = None,
                        origin: bool = True) -> Settings:
    """Validate a config table and turn it into Settings over ``base`` (the defaults, or the
    file it `extend`s). Unknown keys and wrong types are errors.

    Over a base, as in ruff: a `select` starts the selection afresh (the base's `extend-select`
    and `ignore` go), otherwise `extend-select`, `ignore` and `extend-exclude` add to the base's;
    other values replace the base's, and family tables merge key by key. ``origin``: the table
    comes from the file ``path`` (its folder becomes the root); False for `--config KEY=VALUE`.
    """
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
            changes[key] = _freeze({**getattr(base, key), **value})
        else:
            known = ", ".join(sorted([*_TOP_LEVEL, *families, "extend"]))
            raise ConfigError(f"{path}: unknown key `{key}` (known keys: {known})")
    for code_key in ("select", "extend_select", "ignore"):
        for code in changes.get(code_key, ()):
            _check_code_selector(code, f"{path}: `{code_key.replace('_', '-')}`")
    for _, codes in changes.get("per_file_ignores", ()):
        for code in codes:
            _check_code_selector(code, f"{path}: `per-file-ignores`")
    if "select" in changes:
        changes.setdefault("extend_select", ())
        changes.setdefault("ignore", ())
    else:
        for attr in ("extend_select", "ignore"):
            if attr in changes:
                changes[attr] = (*getattr(base, attr), *changes[attr])
    if "extend_exclude" in changes:
        changes["extend_exclude"] = (*base.extend_exclude, *changes["extend_exclude"])
    if not origin:
        return replace(base, **changes)
    return replace(base, **changes, root=str(path.parent), config_path=str(path))


def target_from_requires_python(spec: str) -> str | None:
    """The `target-version` a `[project] requires-python` implies: its lowest allowed Python 3
    minor version (``">=3.9,<4"`` → ``"py39"``), clamped to the versions dbleak knows."""
    lows: list[int] = []
    for clause in spec.split(","):
        match = re.match(r"^\s*(>=|~=|==|>)\s*3\.(\d+)", clause)
        if match:
            lows.append(int(match.group(2)))
    if not lows:
        return None
    known = [int(v[3:]) for v in TARGET_VERSIONS]
    minor = min(max(max(lows), known[0]), known[-1])
    return f"py3{minor}"


def _requires_python(path: Path) -> str | None:
    if path.name != "pyproject.toml":
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        with open(path, "rb") as handle:
            project = tomllib.load(handle).get("project")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    spec = project.get("requires-python") if isinstance(project, dict) else None
    return target_from_requires_python(spec) if isinstance(spec, str) else None


def settings_from_config(path: Path, table: Mapping[str, Any]) -> Settings:
    """The Settings of the config file ``path`` (whose `[tool.dbleak]` is ``table``): following
    `extend` (a path relative to the file, `~` and `$VARS` expanded) to the files it builds on,
    and, when none of them sets `target-version`, the one `[project] requires-python` implies."""
    settings, target_set = _settings_with_bases(path, table, ())
    if not target_set:
        inferred = _requires_python(path)
        if inferred is not None:
            settings = replace(settings, target_version=inferred)
    return settings


def _settings_with_bases(path: Path, table: Mapping[str, Any],
                         chain: tuple[Path, ...]) -> tuple[Settings, bool]:
    base: Settings | None = None
    target_set = "target-version" in table
    extend = table.get("extend")
    if extend is not None:
        if not isinstance(extend, str):
            raise ConfigError(f"{path}: `extend` must be the path of a configuration file, "
                              f"got {extend!r}")
        here = path.resolve()
        target = (path.parent / os.path.expandvars(os.path.expanduser(extend))).resolve()
        if target == here or target in chain:
            cycle = " -> ".join(str(p) for p in (*chain, here, target))
            raise ConfigError(f"{path}: `extend` makes a cycle: {cycle}")
        if not target.is_file():
            raise ConfigError(f"{path}: `extend`: no such configuration file {target}")
        base_table = read_config_file(target) or {}
        base, base_target = _settings_with_bases(target, base_table, (*chain, here))
        target_set = target_set or base_target
    own = {key: value for key, value in table.items() if key != "extend"}
    return settings_from_table(own, path, base), target_set


def apply_inline(settings: Settings, table: Mapping[str, Any]) -> Settings:
    """``settings`` with the `--config KEY=VALUE` options of ``table`` over them."""
    return settings_from_table(table, Path("--config"), settings, origin=False)


def _check_code_selector(code: str, where: str) -> None:
    from dbleak.registry import is_valid_selector

    if not is_valid_selector(code):
        raise ConfigError(f"{where}: unknown rule code or prefix {code!r}")


def _toml_value(value: Any) -> str:
    """``value`` written as TOML (strings, booleans, numbers, lists and tables of them)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def settings_lines(settings: Settings) -> list[str]:
    """Every resolved value of ``settings``, one ``key = value`` line each, in the spelling of
    `[tool.dbleak]` (``--show-settings``)."""
    lines: list[str] = []
    for key in ("select", "extend-select", "ignore", "exclude", "extend-exclude",
                "respect-gitignore", "target-version"):
        lines.append(f"{key} = {_toml_value(getattr(settings, key.replace('-', '_')))}")
    lines.append(f"per-file-ignores = {_toml_value(dict(settings.per_file_ignores))}")
    for family in (*FAMILY_OPTIONS, "drivers"):
        table: Mapping[str, Any] = getattr(settings, family)
        lines.append(f"{family} = {_toml_value(table)}")
    return lines


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
        # By the path as given: a run asks for the settings of each file several times.
        self._by_path: dict[Path, Settings] = {}
        self._real: dict[str, Path] = {}  # absolute folders, resolved
        self._explicit: Settings | None = None
        if explicit is not None:
            table = read_config_file(explicit)
            self._explicit = self._overrides(
                settings_from_config(explicit.resolve(), table or {})
            )
        self._default = self._overrides(Settings(root=str(Path.cwd())))

    def for_path(self, path: Path) -> Settings:
        if self._explicit is not None:
            return self._explicit
        if self._isolated:
            return self._default
        found = self._by_path.get(path)
        if found is None:
            try:
                is_dir = path.is_dir()
                is_link = not is_dir and path.is_symlink()
            except OSError:  # inside a folder that cannot be searched
                is_dir = is_link = False
            if is_dir:
                folder = self._resolved(path)
            elif is_link:
                folder = path.resolve().parent
            else:  # a file's real folder is its folder's: resolved once per folder
                folder = self._resolved(path.parent)
            found = self._by_path[path] = self._for_dir(folder)
        return found

    def _resolved(self, folder: Path) -> Path:
        """``folder.resolve()``, from its parent's (one ``lstat`` per folder, not one per
        component of its path)."""
        if ".." in folder.parts:  # through a symlink, `..` is not where it reads
            return folder.resolve()
        return self._resolved_absolute(os.path.abspath(folder))

    def _resolved_absolute(self, absolute: str) -> Path:
        real = self._real.get(absolute)
        if real is None:
            parent = os.path.dirname(absolute)
            if parent != absolute and not os.path.islink(absolute):
                real = self._resolved_absolute(parent) / os.path.basename(absolute)
            else:
                real = Path(absolute).resolve()
            self._real[absolute] = real
        return real

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
                    settings = self._overrides(settings_from_config(candidate, table))
                    break
        if settings is None:
            parent = folder.parent
            settings = self._default if parent == folder else self._for_dir(parent)
        self._by_dir[folder] = settings
        return settings


# The driver table validates `[tool.dbleak.drivers]`; importing it registers its validator.
import dbleak.knowledge.drivers  # noqa: F401
