"""The boundedness table: SQL statements across dialects and what `query_bound` says of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbleak.knowledge.sql import (
    PARAMETER_LITERAL,
    hole_marker,
    normalise_placeholders,
    query_bound,
)
from dbleak.settings import Settings, settings_from_table

H0 = hole_marker(0)

B, U, K = "bounded", "unbounded", "unknown"

# (sql, dialect, verdict)
TABLE: list[tuple[str, str | None, str]] = [
    # --- LIMIT / FETCH FIRST / TOP / ROWNUM
    ("SELECT * FROM events LIMIT 10", "sqlite", B),
    ("SELECT * FROM events LIMIT ?", "sqlite", B),
    ("SELECT * FROM events ORDER BY id DESC LIMIT %s", "postgres", B),
    ("SELECT * FROM events LIMIT %(n)s OFFSET %(o)s", "postgres", B),
    ("SELECT * FROM events LIMIT $1", "postgres", B),
    ("SELECT * FROM events LIMIT :n", "sqlite", B),
    ("SELECT * FROM events LIMIT 5, 10", "mysql", B),
    ("SELECT * FROM events FETCH FIRST 10 ROWS ONLY", "postgres", B),
    ("SELECT * FROM events OFFSET 5 ROWS FETCH NEXT 5 ROWS ONLY", "tsql", B),
    ("SELECT TOP 5 * FROM events", "tsql", B),
    ("SELECT TOP (10) name FROM dbo.users ORDER BY name", "tsql", B),
    ("SELECT * FROM events WHERE ROWNUM <= 5", "oracle", B),
    ("SELECT * FROM events LIMIT 100", "snowflake", B),
    ("SELECT * FROM events LIMIT 100", "duckdb", B),
    (f"SELECT * FROM events LIMIT {H0}", None, B),
    ("SELECT a FROM t1 UNION ALL SELECT a FROM t2 LIMIT 3", None, B),
    # --- aggregates without GROUP BY
    ("SELECT count(*) FROM events", "sqlite", B),
    ("SELECT COUNT(*), MAX(created) FROM events WHERE kind = ?", "sqlite", B),
    ("SELECT sum(amount) AS total FROM payments", "postgres", B),
    ("SELECT count(*) FROM events GROUP BY kind", "postgres", U),
    ("SELECT kind, count(*) FROM events GROUP BY kind", "mysql", U),
    ("SELECT count(*) OVER () FROM events", "postgres", U),
    # --- only the groups that repeat: duplicate and conflict checks
    ("SELECT name, user_id, COUNT(DISTINCT workspace) FROM perms GROUP BY name, user_id "
     "HAVING COUNT(DISTINCT workspace) > 1", "sqlite", B),
    ("SELECT email FROM users GROUP BY email HAVING count(*) >= 2", "postgres", B),
    ("SELECT email FROM users GROUP BY email HAVING count(*) > 0", "postgres", U),
    ("SELECT email FROM users GROUP BY email HAVING count(*) >= 1", "postgres", U),
    ("SELECT kind, sum(n) FROM events GROUP BY kind HAVING sum(n) > 1", "postgres", U),
    # --- key equality
    ("SELECT * FROM users WHERE id = ?", "sqlite", B),
    ("SELECT * FROM users WHERE id = %s", "postgres", B),
    ("SELECT * FROM users WHERE user_id = %(uid)s", "postgres", B),
    ("SELECT * FROM users u WHERE u.id = :id AND u.active = 1", "sqlite", B),
    ("SELECT name FROM users WHERE uuid = $1", "postgres", B),
    ("SELECT * FROM items WHERE pk = ?", "sqlite", B),
    ("SELECT * FROM users WHERE id IN (?, ?, ?)", "sqlite", B),
    ("SELECT * FROM users WHERE id IN %s", "postgres", B),
    ("SELECT * FROM users WHERE id = ANY(%s)", "postgres", B),
    ("SELECT * FROM categories WHERE category_id = ?", "sqlite", B),
    ("SELECT * FROM orders WHERE user_id = ?", "sqlite", U),
    ("SELECT name FROM users WHERE lower(user_id) = lower(?)", "sqlite", B),
    ("SELECT * FROM users WHERE UPPER(uuid) = %s", "postgres", B),
    ("SELECT * FROM users WHERE lower(city) = lower(?)", "sqlite", U),
    # A quoted hole keeps the marker's spaces: still a table name that is not known.
    (f"SELECT a FROM ` {H0} ` AS r WHERE r.x IS NULL", "mysql", K),
    # ... but a quoted hole as the schema of a catalog table leaves the table known.
    (f'SELECT name FROM " {H0} ".sqlite_master WHERE type=? ORDER BY name', "sqlite", B),
    ("SELECT * FROM users WHERE id > ?", "sqlite", U),
    ("SELECT * FROM users WHERE id = ? OR name = ?", "sqlite", U),
    ("SELECT * FROM users WHERE id IN (SELECT user_id FROM orders)", "sqlite", U),
    ("SELECT * FROM users WHERE nickname = ?", "sqlite", U),
    # columns that identify a row by convention (declared unique or not)
    ("SELECT * FROM users WHERE email = ?", "sqlite", B),
    ("SELECT * FROM users WHERE lower(username) = lower(%s)", "postgres", B),
    ("SELECT * FROM pages WHERE slug = :slug", "sqlite", B),
    ("SELECT * FROM users WHERE email LIKE ?", "sqlite", U),
    # --- rowless and catalog statements
    ("PRAGMA table_info(users)", "sqlite", B),
    ("PRAGMA journal_mode=WAL", "sqlite", B),
    ("SHOW TABLES", "mysql", B),
    ("SHOW search_path", "postgres", B),
    ("EXPLAIN SELECT * FROM events", "postgres", B),
    ("EXPLAIN QUERY PLAN SELECT * FROM events", "sqlite", B),
    ("DESCRIBE users", "mysql", B),
    ("SELECT name FROM sqlite_master WHERE type = 'table'", "sqlite", B),
    ("SELECT table_name FROM information_schema.tables", "postgres", B),
    ("SELECT * FROM pg_catalog.pg_tables", "postgres", B),
    # Oracle's data dictionary, by name (Django's Oracle introspection)...
    ("SELECT table_name, 't', cache FROM user_tables", "oracle", B),
    ("SELECT column_name, data_default FROM user_tab_cols WHERE table_name = UPPER(:1)", "oracle", B),
    ("SELECT owner, object_name FROM all_objects WHERE object_type = 'TABLE'", "oracle", B),
    ("SELECT sid, serial# FROM v$session", "oracle", B),
    # ... but an application's table that starts the same way is no catalog
    ("SELECT * FROM user_sessions", "oracle", U),
    ("SELECT * FROM all_orders", "oracle", U),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY)", "sqlite", B),
    ("BEGIN", "sqlite", B),
    # --- writes
    ("INSERT INTO events (kind) VALUES (?)", "sqlite", B),
    ("UPDATE events SET seen = 1", "sqlite", B),
    ("DELETE FROM events WHERE created < ?", "postgres", B),
    ("INSERT INTO events (kind) VALUES (%s) RETURNING id", "postgres", B),
    ("UPDATE events SET seen = true WHERE id = %s RETURNING *", "postgres", B),
    ("DELETE FROM events WHERE created < %s RETURNING id", "postgres", U),
    ("INSERT INTO archive SELECT * FROM events RETURNING id", "postgres", U),
    # the batch idiom: the keys a limited subquery of the same table picks
    ("DELETE FROM queue WHERE user_id IN (SELECT user_id FROM queue ORDER BY user_id LIMIT %s) "
     "RETURNING user_id", "postgres", B),
    ("DELETE FROM queue WHERE user_id IN (SELECT user_id FROM queue) RETURNING user_id",
     "postgres", U),
    ("DELETE FROM members WHERE group_id IN (SELECT id FROM groups LIMIT 10) RETURNING id",
     "postgres", U),
    # A batch CTE joined on the target's key changes at most one row per batch row.
    ("WITH batch AS (SELECT id FROM events WHERE id > %s ORDER BY id LIMIT %s) "
     "UPDATE events e SET seen = true FROM batch b WHERE e.id = b.id RETURNING e.id",
     "postgres", B),
    ("WITH batch AS (SELECT id FROM events LIMIT 10) "
     "DELETE FROM events e USING batch b WHERE e.id = b.id RETURNING e.id", "postgres", B),
    ("WITH batch AS (SELECT id FROM events WHERE id > %s) "
     "UPDATE events e SET seen = true FROM batch b WHERE e.id = b.id RETURNING e.id",
     "postgres", U),
    ("WITH batch AS (SELECT kind FROM events LIMIT 10) "
     "UPDATE events e SET seen = true FROM batch b WHERE e.kind = b.kind RETURNING e.id",
     "postgres", U),
    # --- VALUES and select without FROM
    ("VALUES (1, 'a'), (2, 'b')", "postgres", B),
    ("SELECT 1", "sqlite", B),
    ("SELECT now()", "postgres", B),
    ("SELECT * FROM (VALUES (1), (2)) AS v(x)", "postgres", B),
    # --- CTEs and subqueries
    ("WITH recent AS (SELECT * FROM events ORDER BY id DESC LIMIT 10) SELECT * FROM recent",
     "postgres", B),
    (("WITH recent AS (SELECT * FROM events LIMIT 10) SELECT * FROM recent JOIN users u ON "
     "u.id = recent.user_id"), "postgres", U),
    ("WITH e AS (SELECT * FROM events) SELECT * FROM e", "postgres", U),
    ("SELECT * FROM (SELECT * FROM events LIMIT 5) AS sub", "sqlite", B),
    ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT * FROM n",
     "sqlite", U),
    # --- plain unbounded reads
    ("SELECT * FROM events", "sqlite", U),
    ("select id, kind from events where kind = ?", "sqlite", U),
    ("SELECT e.* FROM events e JOIN users u ON u.id = e.user_id", "postgres", U),
    ("SELECT DISTINCT kind FROM events", "mysql", U),
    ("SELECT * FROM `events` WHERE `kind` = %s", "mysql", U),
    ("SELECT * FROM [dbo].[events]", "tsql", U),
    ("SELECT * FROM events ORDER BY created", "snowflake", U),
    ("SELECT * FROM read_csv_auto('x.csv')", "duckdb", K),
    ("SELECT a FROM t1 UNION SELECT a FROM t2", None, U),
    ("SELECT * FROM events -- all of them\n", "sqlite", U),
    ("SELECT * FROM events WHERE note = 'id = ?'", "sqlite", U),
    ("SELECT * FROM events WHERE created > now() - interval '1 day'", "postgres", U),
    ("SELECT x::text FROM events", "postgres", U),
    (f"SELECT * FROM {H0}", None, K),
    (f"SELECT {H0} FROM events", None, U),
    (f"SELECT * FROM events WHERE kind = {H0}", None, U),
    (f"SELECT * FROM events WHERE id = {H0}", None, B),
    # --- holes that may carry the bound: unknown
    (f"SELECT * FROM events WHERE {H0}", None, K),
    (f"SELECT * FROM events WHERE kind = 1 AND {H0}", None, K),
    (f"SELECT * FROM events {H0}", None, K),
    (f"SELECT * FROM events WHERE kind = 1 {H0}", None, K),
    # --- not SQL
    ("Select the file from the list", None, K),
    ("Please select a row from the table.", None, K),
    ("We select rows from the table when you ask", None, K),
    ("", None, K),
    ("hello world", None, K),
    ("SELECT * FROM", "sqlite", K),
]


@pytest.mark.parametrize(("sql", "dialect", "verdict"), TABLE,
                         ids=[f"{i}-{(d or 'any')}" for i, (_s, d, _v) in enumerate(TABLE)])
def test_boundedness_table(sql: str, dialect: str | None, verdict: str) -> None:
    result = query_bound(sql, dialect)
    assert result.verdict == verdict, result.reason
    assert result.reason


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 60
    assert len({d for _s, d, _v in TABLE}) >= 6


def _settings(table: dict[str, object]) -> Settings:
    return settings_from_table({"sql": table}, Path("pyproject.toml"))


def test_small_tables_are_bounded() -> None:
    settings = _settings({"small-tables": ["countries"]})
    assert query_bound("SELECT * FROM countries", "sqlite", settings).verdict == B
    assert query_bound("SELECT * FROM countries", "sqlite").verdict == U
    assert query_bound("SELECT * FROM countries c JOIN cities x ON x.cc = c.cc", "sqlite",
                       settings).verdict == U


def test_bounded_columns_from_settings() -> None:
    settings = _settings({"bounded-columns": ["nickname", "orders.number"]})
    assert query_bound("SELECT * FROM users WHERE nickname = ?", "sqlite", settings).verdict == B
    assert query_bound("SELECT * FROM orders o WHERE o.number = ?", "sqlite",
                       settings).verdict == B  # `o` is `orders`
    assert query_bound("SELECT * FROM invoices WHERE number = ?", "sqlite",
                       settings).verdict == U
    assert query_bound("SELECT * FROM orders WHERE orders.number = ?", "sqlite",
                       settings).verdict == B


def test_placeholders_are_normalised_outside_quotes() -> None:
    p = PARAMETER_LITERAL
    assert normalise_placeholders("a = ? AND b = %s AND c = %(c)s AND d = :d AND e = $1") == \
        f"a = {p} AND b = {p} AND c = {p} AND d = {p} AND e = {p}"
    assert normalise_placeholders("x::int = '?' AND y LIKE 'a%%'") == "x::int = '?' AND y LIKE 'a%%'"
    assert normalise_placeholders("y LIKE %s || '%%'") == f"y LIKE {p} || '%%'"
    assert normalise_placeholders("id IN %s") == f"id IN ({p})"


# Unbounded reads of a class the rules leave to an opt-in: (sql, dialect, the Bound field
# that names the class, its value or None).
OPT_IN_CLASSES = [
    # one parent's rows: the foreign key
    ("SELECT * FROM orders WHERE user_id = ?", "sqlite", "parent", "user_id"),
    ("SELECT * FROM comments WHERE post_id = %s AND hidden = false", "postgres", "parent",
     "post_id"),
    ("SELECT * FROM items WHERE event_uuid = %(e)s", "postgres", "parent", "event_uuid"),
    ("SELECT * FROM lines WHERE order_id = CAST(? AS INTEGER)", "sqlite", "parent", "order_id"),
    ("SELECT * FROM t WHERE owner_id = __dbleak_hole_0__", None, "parent", "owner_id"),
    # a constant the SQL writes picks a class of rows, not one parent's
    ("SELECT * FROM tickets WHERE state_id = 3", "sqlite", "parent", None),
    ("SELECT * FROM tickets WHERE state_id = 'open'", "sqlite", "parent", None),
    # a join condition is not a filter
    ("SELECT * FROM a, b WHERE a.b_id = b.other_id", "sqlite", "parent", None),
    # several parents
    ("SELECT * FROM orders WHERE user_id IN (?, ?) OR 1 = 1", "sqlite", "parent", None),
    ("SELECT * FROM orders WHERE user_id > ?", "sqlite", "parent", None),
    ("SELECT * FROM orders WHERE user_id = ? OR total > 10", "sqlite", "parent", None),
    # one row per distinct value of plain columns: the columns
    ("SELECT status, count(*) FROM orders GROUP BY status", "sqlite", "grouped", "status"),
    ("SELECT kind, currency, sum(amount) AS total FROM payments GROUP BY kind, currency",
     "postgres", "grouped", "kind, currency"),
    ("SELECT o.status, max(o.id) FROM orders o WHERE total > %s GROUP BY o.status",
     "postgres", "grouped", "status"),
    # a key or a foreign key: one group per row, or per parent row
    ("SELECT id, count(*) FROM orders GROUP BY id", "sqlite", "grouped", None),
    ("SELECT customer_id, count(*) FROM orders GROUP BY customer_id", "sqlite", "grouped", None),
    ("SELECT email, count(*) FROM users GROUP BY email", "sqlite", "grouped", None),
    # a column neither grouped nor aggregated, an expression, no aggregate at all
    ("SELECT status, note, count(*) FROM orders GROUP BY status", "sqlite", "grouped", None),
    ("SELECT date(created), count(*) FROM orders GROUP BY date(created)", "sqlite", "grouped",
     None),
    ("SELECT status FROM orders GROUP BY status", "sqlite", "grouped", None),
]


@pytest.mark.parametrize(("sql", "dialect", "field", "value"), OPT_IN_CLASSES)
def test_opt_in_classes_are_unbounded_and_say_so(sql: str, dialect: str | None, field: str,
                                                 value: str | None) -> None:
    result = query_bound(sql, dialect)
    assert result.verdict == "unbounded", result.reason
    assert getattr(result, field) == value


@pytest.mark.parametrize(("sql", "option"), [
    ("SELECT * FROM orders WHERE user_id = ?", "per-parent"),
    ("SELECT status, count(*) FROM orders GROUP BY status", "grouped"),
])
def test_opt_in_classes_are_reported_only_when_asked(sql: str, option: str) -> None:
    from dbleak.knowledge.sql import worth_reporting
    from dbleak.settings import Settings

    read = query_bound(sql, "sqlite")
    whole = query_bound("SELECT * FROM orders", "sqlite")
    default = Settings()
    asked = settings_from_table({"sql": {option: "report"}}, Path("pyproject.toml"))
    assert not worth_reporting(read, default)
    assert worth_reporting(read, asked)
    assert worth_reporting(whole, default) and worth_reporting(whole, asked)
    assert not worth_reporting(query_bound("SELECT * FROM t WHERE id = ?"), asked)


def test_unique_columns_come_from_create_table() -> None:
    from dbleak.knowledge.sql import unique_columns

    ddl = ("CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, "
           "tags TEXT, UNIQUE (tags, url))")
    keys = unique_columns(ddl)
    assert keys == ("bookmarks.id", "bookmarks.url")
    sql = "SELECT id FROM bookmarks WHERE url IN (?, ?)"
    assert query_bound(sql, "sqlite", unique_columns=keys).verdict == B
    assert query_bound(sql, "sqlite").verdict == U


def test_unique_columns_come_from_create_unique_index() -> None:
    from dbleak.knowledge.sql import unique_columns

    assert unique_columns("CREATE UNIQUE INDEX name ON peers(name)") == ("peers.name",)
    assert unique_columns("CREATE UNIQUE INDEX IF NOT EXISTS ix ON t (a, b)") == ()
    assert unique_columns("CREATE INDEX ix ON t (a)") == ()
    keys = unique_columns("CREATE UNIQUE INDEX name ON peers(name)")
    sql = "SELECT * FROM peers p WHERE p.name = ?"
    assert query_bound(sql, "sqlite", unique_columns=keys).verdict == B
