"""Configuration: keys, types, family tables, file discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbleak.settings import ConfigError, ConfigResolver, read_config_file, settings_from_table

WHERE = Path("/project/pyproject.toml")


def test_valid_table() -> None:
    settings = settings_from_table({
        "select": ["DBL1"], "extend-select": ["DBL104"], "ignore": ["DBL10"],
        "per-file-ignores": {"tests/*": ["DBL1"]}, "extend-exclude": ["migrations"],
        "respect-gitignore": False, "target-version": "py38",
        "sql": {"chunk-size": 500, "small-tables": ["countries"]},
        "lifecycle": {"unknown-calls": "borrow"},
    }, WHERE)
    assert settings.select == ("DBL1",)
    assert settings.per_file_ignores == (("tests/*", ("DBL1",)),)
    assert settings.option("sql", "chunk-size", 1000) == 500
    assert settings.option("sql", "unresolved", "ignore") == "ignore"
    assert settings.option("lifecycle", "unknown-calls") == "borrow"
    assert settings.root == "/project"


@pytest.mark.parametrize(("table", "message"), [
    ({"selec": ["DBL"]}, "unknown key `selec`"),
    ({"select": "DBL"}, "`select` must be a list of strings"),
    ({"respect-gitignore": "yes"}, "`respect-gitignore` must be true or false"),
    ({"target-version": "py27"}, "`target-version` must be one of"),
    ({"select": ["XYZ"]}, "unknown rule code or prefix 'XYZ'"),
    ({"sql": {"chunk-size": 0}}, "`sql.chunk-size` must be a positive integer"),
    ({"sql": {"chunksize": 10}}, "unknown key `sql.chunksize`"),
    ({"lifecycle": {"unknown-calls": "keep"}}, "`lifecycle.unknown-calls` must be one of"),
    ({"sql": 3}, "`sql` must be a table"),
])
def test_errors_name_the_file_and_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from_table(table, WHERE)
    assert str(raised.value).startswith("/project/pyproject.toml: ")
    assert message in str(raised.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.dbleak\nselect = [")
    with pytest.raises(ConfigError, match="invalid TOML"):
        read_config_file(path)


def test_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dbleak]\nignore = ['DBL104']\n")
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    settings = ConfigResolver().for_path(inner / "m.py")
    assert settings.ignore == ("DBL104",)


def test_dbleak_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dbleak]\nignore = ['DBL104']\n")
    (tmp_path / "dbleak.toml").write_text("ignore = ['DBL1']\n")
    assert ConfigResolver().for_path(tmp_path / "m.py").ignore == ("DBL1",)
