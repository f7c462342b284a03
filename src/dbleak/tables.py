"""Table sizes read from a database, for ``[tool.dbleak.sql] small-tables``.

The DBL2xx rules cannot tell a lookup or configuration table (document types, roles, realms)
from a table that grows with use: nothing in a query says how many rows a table holds. A
database can. ``dbleak tables DATABASE`` lists the tables of a database (a copy of production
is best) that hold at most ``--max-rows`` rows, as a ``small-tables`` list to paste into the
configuration. Counting stops at ``max_rows + 1`` rows per table (``SELECT count(*) FROM
(SELECT 1 FROM t LIMIT n)``), so a large table costs no more than a small one, and nothing is
written: every statement is a ``SELECT``, in a transaction that is rolled back.

Databases: a SQLite file (a path, or ``sqlite:///path``), PostgreSQL (``postgresql://…``, with
psycopg 3 or psycopg2) and MySQL/MariaDB (``mysql://…``, with PyMySQL; a ``?unix_socket=``
query names a socket).
"""

from __future__ import annotations

import importlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class DatabaseError(Exception):
    """The database could not be opened or read; the message names it (password hidden)."""


@dataclass(frozen=True)
class TableSize:
    name: str  # as the SQL names it: `schema.table` outside PostgreSQL's `public`
    rows: int  # exact up to the limit; `limit + 1` means "more"


def redact(database: str) -> str:
    """The database's name for messages: the password of a URL replaced by ``***``."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", database)


def table_sizes(database: str, max_rows: int,
                postgres_drivers: tuple[str, ...] = ("psycopg", "psycopg2")) -> list[TableSize]:
    """Every table of ``database``, with its row count capped at ``max_rows + 1``. PostgreSQL
    is read with the first of ``postgres_drivers`` that is installed."""
    scheme = database.split("://", 1)[0].lower() if "://" in database else ""
    try:
        if scheme in ("", "sqlite"):
            return _sqlite(database, max_rows)
        if scheme in ("postgresql", "postgres"):
            return _postgres(database, max_rows, postgres_drivers)
        if scheme in ("mysql", "mariadb"):
            return _mysql(database, max_rows)
    except DatabaseError:
        raise
    except Exception as error:  # noqa: BLE001 - every driver raises its own classes
        raise DatabaseError(f"{redact(database)}: {type(error).__name__}: "
                            f"{str(error).strip() or 'cannot read it'}") from None
    raise DatabaseError(f"{redact(database)}: unknown kind of database {scheme!r} "
                        "(a SQLite path, sqlite:///…, postgresql://… or mysql://…)")


def small_tables(sizes: list[TableSize], max_rows: int) -> list[str]:
    return sorted(size.name for size in sizes if size.rows <= max_rows)


def _capped_counts(names: list[tuple[str, str]], max_rows: int,
                   run: Callable[[str], Any]) -> Iterator[TableSize]:
    for shown, quoted in names:
        count = run(f"SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT {max_rows + 1}) AS capped")
        yield TableSize(shown, int(count))


def _sqlite(database: str, max_rows: int) -> list[TableSize]:
    path = database.removeprefix("sqlite:///")
    if not Path(path).is_file():
        raise DatabaseError(f"{path}: no such SQLite database file")
    connection = sqlite3.connect(f"file:{Path(path).resolve().as_posix()}?mode=ro", uri=True)
    try:
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]

        def run(sql: str) -> Any:
            return connection.execute(sql).fetchone()[0]

        return list(_capped_counts([(n, _quote(n, '"')) for n in names], max_rows, run))
    except sqlite3.DatabaseError as error:
        raise DatabaseError(f"{path}: {error}") from None
    finally:
        connection.close()


_PG_TABLES = """
    SELECT table_schema, table_name FROM information_schema.tables
    WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
    ORDER BY table_schema, table_name
"""


def _driver(*names: str) -> Any:
    """The first of the driver modules that is installed (typed as Any: stubs vary)."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    return None


def _postgres(database: str, max_rows: int, drivers: tuple[str, ...]) -> list[TableSize]:
    driver = _driver(*drivers)
    if driver is None:
        raise DatabaseError("reading PostgreSQL needs psycopg or psycopg2: "
                            "pip install 'psycopg[binary]'")
    connection = driver.connect(database)
    return _read(connection, max_rows, ["SET TRANSACTION READ ONLY", _PG_TABLES], lambda row: (
        row[1] if row[0] == "public" else f"{row[0]}.{row[1]}",
        f"{_quote(row[0], chr(34))}.{_quote(row[1], chr(34))}"))


def _read(connection: Any, max_rows: int, listing: list[str],
          name: Callable[[Any], tuple[str, str]]) -> list[TableSize]:
    """Run ``listing`` (the last statement lists the tables), then count each table's rows on a
    DB-API connection; roll back and close it whatever happens."""
    try:
        cursor = connection.cursor()
        for statement in listing:
            cursor.execute(statement)
        names = [name(row) for row in cursor.fetchall()]

        def run(sql: str) -> Any:
            cursor.execute(sql)
            return cursor.fetchone()[0]

        return list(_capped_counts(names, max_rows, run))
    finally:
        connection.rollback()
        connection.close()


def _mysql(database: str, max_rows: int) -> list[TableSize]:
    pymysql = _driver("pymysql")
    if pymysql is None:
        raise DatabaseError("reading MySQL needs PyMySQL: pip install pymysql")
    parts = urlsplit(database)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    options: dict[str, Any] = {"database": unquote(parts.path.lstrip("/")) or None}
    if parts.username:
        options["user"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    if "unix_socket" in query:
        options["unix_socket"] = query["unix_socket"]
    else:
        options["host"] = parts.hostname or "localhost"
        options["port"] = parts.port or 3306
    connection = pymysql.connect(**options)
    listing = ("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
               "AND table_type = 'BASE TABLE' ORDER BY table_name")
    return _read(connection, max_rows, [listing], lambda row: (row[0], _quote(row[0], "`")))


def _quote(name: str, mark: str) -> str:
    return mark + name.replace(mark, mark * 2) + mark


def render_toml(database: str, tables: list[str], max_rows: int) -> str:
    lines = [f"# Tables of {redact(database)} with at most {max_rows} rows (`dbleak tables`).",
             "# Lookup and configuration tables: DBL2xx do not report reading them whole.",
             "[tool.dbleak.sql]"]
    if not tables:
        lines.append("small-tables = []")
    else:
        lines.append("small-tables = [")
        lines.extend(f"    {json.dumps(name)}," for name in tables)  # a TOML basic string
        lines.append("]")
    return "\n".join(lines) + "\n"
