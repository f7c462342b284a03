"""Whether a SQL query's result is bounded: one function, :func:`query_bound`.

The text is parsed with sqlglot (imported on first use: it is slow to import and most files
never need it), after DB-API placeholders are normalised. A *hole* (an f-string or ``%``
expression the analysis could not resolve) is written into the text as :func:`hole_marker`
and read as an unknown name: ``FROM {table}`` stays unbounded, but a hole that could be a
whole condition or a trailing clause (``WHERE {cond}``, ``"... " + suffix``) makes the answer
unknown. Precision first: "unbounded" is said only when sure, everything doubtful is "unknown".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from dbleak.settings import Settings

Verdict = Literal["bounded", "unbounded", "unknown"]

HOLE_PREFIX = "__dbleak_hole_"

# Dialects tried after the driver's own, in order (None: sqlglot's generic dialect).
_FALLBACK_DIALECTS: tuple[str | None, ...] = (None, "sqlite", "postgres", "mysql", "tsql",
                                              "snowflake", "duckdb")

# Column names that identify one row wherever they appear.
# Columns that identify one row by convention, declared unique or not: equality on one of them
# reads one row, or the few that share it (the accounts of one e-mail address).
IDENTIFIER_COLUMNS = frozenset({"email", "username", "slug", "token", "session_key"})
_KEY_COLUMNS = frozenset({"id", "pk", "uuid", "guid", "rowid", "oid", "_rowid_"}) \
    | IDENTIFIER_COLUMNS
_PARENT_KEY_SUFFIXES = ("_id", "_uuid", "_pk")

# Catalog tables hold one row per schema object: bounded by nature.
_CATALOG_SCHEMAS = frozenset({"information_schema", "pg_catalog", "sys", "mysql",
                              "performance_schema", "sqlite_temp_master"})
_CATALOG_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master",
                             "sqlite_temp_schema", "sqlite_sequence", "sqlite_stat1",
                             "dual"})

# Oracle's data dictionary: views named `<scope>_<what>` (`user_tables`, `all_tab_cols`,
# `dba_constraints`), one row per schema object, and the dynamic `v$`/`gv$` views. Listed by
# name: an application's own `user_sessions` is no catalog.
_ORACLE_DICTIONARY_SCOPES = ("user_", "all_", "dba_", "cdb_")
_ORACLE_DICTIONARY_VIEWS = frozenset({
    "tables", "tab_cols", "tab_columns", "tab_comments", "col_comments", "constraints",
    "cons_columns", "indexes", "ind_columns", "ind_expressions", "sequences", "views",
    "triggers", "objects", "synonyms", "tab_identity_cols", "mviews", "procedures",
    "source", "users", "part_tables", "tab_partitions", "tab_privs", "role_privs",
    "sys_privs", "lobs", "types", "dependencies", "db_links", "tablespaces", "segments",
    "tab_statistics", "col_privs", "errors", "scheduler_jobs", "jobs"})


def is_catalog_table(schema: str, name: str) -> bool:
    """A table of the database's catalog (one row per schema object): bounded by nature."""
    if schema in _CATALOG_SCHEMAS or name in _CATALOG_TABLES or name.startswith("pg_"):
        return True
    if name.startswith(("v$", "gv$")):
        return True
    return any(name.startswith(scope) and name[len(scope):] in _ORACLE_DICTIONARY_VIEWS
               for scope in _ORACLE_DICTIONARY_SCOPES)


# Statements that return nothing, or a handful of rows describing the database.
_ROWLESS_COMMANDS = frozenset({
    "EXPLAIN", "SHOW", "PRAGMA", "DESCRIBE", "DESC", "SET", "RESET", "BEGIN", "START",
    "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "VACUUM", "ANALYZE", "GRANT", "REVOKE",
    "CREATE", "DROP", "ALTER", "TRUNCATE", "USE", "LOCK", "UNLOCK", "REINDEX", "ATTACH",
    "DETACH", "CHECKPOINT", "LISTEN", "NOTIFY", "UNLISTEN", "DISCARD", "COMMENT",
    "CLUSTER", "REFRESH", "DEALLOCATE", "PREPARE", "KILL", "FLUSH", "OPTIMIZE", "CALL",
})

# Words that are names in English sentences and almost never names in a schema.
_ENGLISH_WORDS = frozenset({
    "the", "an", "this", "that", "these", "those", "your", "you", "my", "our", "their",
    "his", "her", "its", "we", "please", "which", "what", "should", "would", "could",
    "must", "will", "it", "is", "are", "was", "were", "be", "been", "there", "here", "then",
    "them", "they", "us", "via", "when", "where", "whose", "who", "how", "why",
})


@dataclass(frozen=True)
class Bound:
    """The answer: ``verdict`` is "bounded", "unbounded" or "unknown"; ``reason`` says why."""

    verdict: Verdict
    reason: str
    # Set on an unbounded read of the children of one row (``WHERE order_id = ?``): the
    # foreign key it filters on. Its size is one parent's fan-out, which the SQL cannot tell.
    parent: str | None = None
    # Set on an unbounded aggregate grouped by plain columns (``GROUP BY status``): the
    # columns. It reads one row per distinct value, not the table's rows.
    grouped: str | None = None

    @property
    def bounded(self) -> bool:
        return self.verdict == "bounded"

    @property
    def unbounded(self) -> bool:
        return self.verdict == "unbounded"


def hole_marker(index: int) -> str:
    """The text standing for the ``index``-th unresolved expression in a SQL string."""
    return f"{HOLE_PREFIX}{index}__"


def query_bound(sql_text: str, dialect: str | None = None,
                settings: Settings | None = None, unique_columns: tuple[str, ...] = ()) -> Bound:
    """Whether ``sql_text`` returns a bounded number of rows.

    ``dialect`` is tried first (a sqlglot dialect name: sqlite, postgres, mysql, tsql, …).
    ``settings`` supplies `[tool.dbleak.sql] bounded-columns` and `small-tables`;
    ``unique_columns`` adds ``table.column`` keys known from the code's own DDL.
    """
    bounded_columns: tuple[str, ...] = unique_columns
    small_tables: tuple[str, ...] = ()
    if settings is not None:
        bounded_columns += tuple(settings.option("sql", "bounded-columns", ()) or ())
        small_tables = tuple(settings.option("sql", "small-tables", ()) or ())
    return _query_bound(sql_text, dialect, bounded_columns, small_tables)


def report_per_parent(settings: Settings | None) -> bool:
    """`[tool.dbleak.sql] per-parent = "report"`: report reads of the children of one row too."""
    return settings is not None and settings.option("sql", "per-parent", "ignore") == "report"


def report_grouped(settings: Settings | None) -> bool:
    """`[tool.dbleak.sql] grouped = "report"`: report aggregates grouped by plain columns too."""
    return settings is not None and settings.option("sql", "grouped", "ignore") == "report"


def worth_reporting(bound: Bound | None, settings: Settings | None) -> bool:
    """An unbounded read the DBL2xx rules report: not one parent's children, nor one row per
    group of plain columns, unless asked to."""
    return bound is not None and bound.unbounded and (
        bound.parent is None or report_per_parent(settings)) and (
        bound.grouped is None or report_grouped(settings))


def is_plain_group_name(name: str, keys: Iterable[str] = ()) -> bool:
    """A column whose distinct values are few next to the rows: not a key (one group per
    row), not a foreign key (one group per parent row)."""
    lowered = name.lower()
    return lowered not in _KEY_COLUMNS and lowered not in keys \
        and not lowered.endswith(_PARENT_KEY_SUFFIXES)


def is_parent_key_name(name: str) -> bool:
    """``order_id``, ``user_uuid``: a column that names another table's row (a foreign key)."""
    lowered = name.lower()
    return lowered.endswith(_PARENT_KEY_SUFFIXES) and lowered not in _KEY_COLUMNS


@lru_cache(maxsize=1024)
def unique_columns(ddl_text: str) -> tuple[str, ...]:
    """``table.column`` for every PRIMARY KEY or UNIQUE column a CREATE TABLE declares, and for
    the column of a one-column ``CREATE UNIQUE INDEX``."""
    from sqlglot import exp

    statements = _parse(normalise_placeholders(ddl_text).strip().rstrip(";"), None)
    found: list[str] = []
    for statement in statements or ():
        if isinstance(statement, exp.Create) and statement.args.get("unique") \
                and isinstance(statement.this, exp.Index):
            # `CREATE UNIQUE INDEX ix ON t (col)`: a key when it covers one column
            index = statement.this
            params = index.args.get("params")
            columns = params.args.get("columns") if params is not None else None
            table = index.args.get("table")
            if columns and len(columns) == 1 and isinstance(table, exp.Table):
                column = columns[0].this if isinstance(columns[0], exp.Ordered) else columns[0]
                if isinstance(column, exp.Column):
                    found.append(f"{table.name.lower()}.{column.name.lower()}")
            continue
        if not isinstance(statement, exp.Create) or not isinstance(statement.this, exp.Schema):
            continue
        table = statement.this.this
        name = table.name.lower() if isinstance(table, exp.Table) else ""
        for column in statement.this.expressions:
            if isinstance(column, exp.ColumnDef):
                kinds = [c.args.get("kind") for c in column.args.get("constraints") or []]
                if any(isinstance(k, (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint))
                       for k in kinds):
                    found.append(f"{name}.{column.name.lower()}")
            elif isinstance(column, (exp.PrimaryKey, exp.UniqueColumnConstraint)):
                keys = column.expressions or (
                    column.this.expressions if isinstance(column.this, exp.Schema) else [])
                if len(keys) == 1:  # a composite key does not make one column unique
                    found.append(f"{name}.{keys[0].name.lower()}")
    return tuple(found)


@lru_cache(maxsize=4096)
def _query_bound(sql_text: str, dialect: str | None, bounded_columns: tuple[str, ...],
                 small_tables: tuple[str, ...]) -> Bound:
    text = normalise_placeholders(sql_text).strip().rstrip(";").strip()
    if not text:
        return Bound("unknown", "empty text")
    if text.endswith((".", "!", ":")) or not _looks_like_sql_start(text):
        return Bound("unknown", "not SQL")
    statements = _parse(text, dialect)
    if statements is None:
        first = text.split(None, 1)[0].upper()
        if first in _ROWLESS_COMMANDS and HOLE_PREFIX not in text:
            return Bound("bounded", f"{first} returns no table rows")
        return Bound("unknown", "sqlglot could not parse it")
    if _is_english(statements):
        return Bound("unknown", "not SQL (reads as English)")
    # A script's result is the result of its last statement.
    judge = _Judge(frozenset(c.lower() for c in bounded_columns),
                   frozenset(t.lower() for t in small_tables))
    return judge.statement(statements[-1])


_FIRST_WORDS = re.compile(
    r"^\s*(\(\s*)*(select|with|values|insert|update|delete|replace|merge|upsert|explain|show|"
    r"pragma|describe|desc|set|reset|begin|start|commit|rollback|savepoint|release|vacuum|"
    r"analyze|analyse|grant|revoke|create|drop|alter|truncate|use|lock|unlock|reindex|attach|"
    r"detach|checkpoint|listen|notify|unlisten|discard|comment|cluster|refresh|deallocate|"
    r"prepare|execute|kill|flush|optimize|call|table|copy|fetch|declare|close|move|do)\b",
    re.IGNORECASE,
)


def _looks_like_sql_start(text: str) -> bool:
    return _FIRST_WORDS.match(_strip_comments(text)) is not None


def _strip_comments(text: str) -> str:
    text = re.sub(r"^\s*(--[^\n]*\n|/\*.*?\*/)*", "", text, flags=re.DOTALL)
    return text


# A quoted string, a comment, or one placeholder form.
_TOKEN = re.compile(
    r"""(?P<skip>'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|--[^\n]*|/\*.*?\*/|\$\$.*?\$\$|::)"""
    r"""|(?P<pyformat>%\([A-Za-z_][A-Za-z0-9_]*\)s)"""
    r"""|(?P<percent>%%)"""
    r"""|(?P<format>%[sdbf])"""
    r"""|(?P<qmark>\?)"""
    r"""|(?P<numeric>\$[0-9]+)"""
    r"""|(?P<named>(?<![:\w]):[A-Za-z_][A-Za-z0-9_]*)""",
    re.DOTALL,
)


def normalise_placeholders(text: str) -> str:
    """Replace every DB-API placeholder outside quotes and comments by a number literal.

    Handles ``?``, ``%s``, ``%(name)s``, ``:name``, ``$1`` (and ``%%`` as ``%``). A literal is
    accepted wherever a parameter is (``LIMIT 0``, ``id = 0``, ``IN (0, 0)``) in every dialect;
    the number is :data:`PARAMETER_LITERAL`, so the judge can tell a parameter from a constant
    the SQL itself writes (``parent_id = ?`` is one parent's rows, ``state_id = 3`` is not).
    """

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup
        if kind == "skip":
            return match.group(0)
        if kind == "percent":
            return "%"
        return PARAMETER_LITERAL

    # psycopg's `IN %s` takes a whole tuple: read it as a list of values.
    return _BARE_IN.sub(f"IN ({PARAMETER_LITERAL})", _TOKEN.sub(replace, text))


PARAMETER_LITERAL = "8675309"
_BARE_IN = re.compile(rf"\bIN\s+{PARAMETER_LITERAL}\b", re.IGNORECASE)


def _parse(text: str, dialect: str | None) -> list[Any] | None:
    import logging

    import sqlglot
    from sqlglot.errors import ErrorLevel

    logging.getLogger("sqlglot").setLevel(logging.CRITICAL)
    tried: list[str | None] = []
    for candidate in (dialect, *_FALLBACK_DIALECTS):
        if candidate in tried:
            continue
        tried.append(candidate)
        try:
            parsed = sqlglot.parse(text, read=candidate, error_level=ErrorLevel.IMMEDIATE)
        except Exception as error:  # noqa: BLE001 - sqlglot raises several types, some plain
            # sqlglot's parser keeps the error it raises, whose traceback holds the parser's
            # frames and, through them, ours (the module's facts and tree): a reference cycle
            # the paused collector would leave alive. Its traceback is of no use here.
            error.__traceback__ = None
            continue
        statements = [s for s in parsed if s is not None]
        if statements:
            return statements
    return None


def _is_english(statements: list[Any]) -> bool:
    from sqlglot import exp

    for statement in statements:
        for identifier in statement.find_all(exp.Identifier):
            if not identifier.quoted and str(identifier.this).lower() in _ENGLISH_WORDS:
                return True
    return False


def _is_parameter(node: Any) -> bool:
    """A value the code supplies: a DB-API parameter or a hole (not a constant, not a column)."""
    from sqlglot import exp

    if isinstance(node, exp.Literal):
        return not node.is_string and node.this == PARAMETER_LITERAL
    if isinstance(node, exp.Cast):
        return _is_parameter(node.this)
    return _is_hole(node)


def _is_hole(node: Any) -> bool:
    from sqlglot import exp

    # A quoted hole (`` `{table}` ``) keeps the spaces the marker is written with.
    return isinstance(node, (exp.Column, exp.Identifier, exp.Table, exp.Var)) and \
        node.name.strip().startswith(HOLE_PREFIX)


class _Judge:
    """Walks one parsed statement and decides its bound."""

    def __init__(self, bounded_columns: frozenset[str], small_tables: frozenset[str]) -> None:
        self.bounded_columns = bounded_columns
        self.small_tables = small_tables

    def statement(self, node: Any) -> Bound:
        from sqlglot import exp

        hole = self._clause_hole(node)
        if hole is not None:
            return Bound("unknown", hole)
        if isinstance(node, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)):
            return self.query(node, {})
        if isinstance(node, exp.Values):
            return Bound("bounded", "VALUES with literal rows")
        if isinstance(node, (exp.Pragma, exp.Show, exp.Describe, exp.Set, exp.Transaction,
                             exp.Commit, exp.Rollback, exp.Create, exp.Drop, exp.Alter,
                             exp.Use, exp.Grant)):
            return Bound("bounded", f"{type(node).__name__.upper()} returns no table rows")
        if isinstance(node, (exp.Insert, exp.Update, exp.Delete, exp.Merge)):
            return self.write(node)
        if isinstance(node, exp.Command):
            word = str(node.this).upper()
            if word in _ROWLESS_COMMANDS:
                return Bound("bounded", f"{word} returns no table rows")
            return Bound("unknown", f"{word} is not understood")
        return Bound("unknown", f"{type(node).__name__} is not understood")

    # --- holes --------------------------------------------------------------------------

    def _clause_hole(self, node: Any) -> str | None:
        """A reason when a hole may stand for a whole condition or clause."""
        from sqlglot import exp

        operand_parents = (exp.Binary, exp.In, exp.Func, exp.Ordered, exp.Limit, exp.Offset,
                           exp.Fetch, exp.Between, exp.Is, exp.Like, exp.Neg, exp.Cast,
                           exp.Tuple, exp.Array, exp.Group, exp.Distinct)
        for found in node.find_all(exp.Identifier):
            if not found.name.strip().startswith(HOLE_PREFIX):
                continue
            holder = found.parent
            if isinstance(holder, exp.TableAlias):
                return "the query ends in text that could not be resolved"
            if isinstance(holder, exp.Table):
                if holder.args.get("this") is not found:
                    continue  # an unknown schema (`"{schema}".sqlite_master`): the table is known
                # An unknown table may be a small one (a migrations log, a lookup table).
                return "the table name could not be resolved"
            if isinstance(holder, exp.Column):
                parent = holder.parent
                if isinstance(parent, (exp.And, exp.Or, exp.Connector, exp.Where, exp.Having,
                                       exp.Not, exp.Paren, exp.Join)):
                    return "a condition could not be resolved"
                if isinstance(parent, (exp.Select, *operand_parents)):
                    continue
                if isinstance(parent, exp.Alias):
                    return "the query ends in text that could not be resolved"
                continue
            if isinstance(holder, exp.Alias):
                return "the query ends in text that could not be resolved"
        return None

    # --- reads --------------------------------------------------------------------------

    def query(self, node: Any, ctes: dict[str, Bound]) -> Bound:
        from sqlglot import exp

        ctes = dict(ctes)
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is not None:
            for cte in with_.expressions:
                name = cte.alias_or_name.lower()
                if with_.args.get("recursive"):
                    ctes[name] = Bound("unbounded", f"recursive CTE `{name}`")
                else:
                    ctes[name] = self.query(cte.this, ctes)
        limited = self._limit(node)
        if limited is not None:
            return limited
        if isinstance(node, exp.Subquery):
            return self.query(node.this, ctes)
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            left = self.query(node.this, ctes)
            right = self.query(node.expression, ctes)
            if isinstance(node, exp.Intersect) and (left.bounded or right.bounded):
                return Bound("bounded", "INTERSECT with a bounded side")
            if isinstance(node, exp.Except) and left.bounded:
                return left
            for side in (left, right):
                if not side.bounded:
                    return side
            return Bound("bounded", "every part of the set operation is bounded")
        if isinstance(node, exp.Values):
            return Bound("bounded", "VALUES with literal rows")
        if not isinstance(node, exp.Select):
            return Bound("unknown", f"{type(node).__name__} is not understood")
        return self.select(node, ctes)

    def _limit(self, node: Any) -> Bound | None:
        from sqlglot import exp

        limit = node.args.get("limit")
        if isinstance(limit, exp.Limit):
            return Bound("bounded", "LIMIT/TOP")
        if isinstance(limit, exp.Fetch):
            return Bound("bounded", "FETCH FIRST")
        if limit is not None:
            return Bound("bounded", "LIMIT")
        return None

    def select(self, node: Any, ctes: dict[str, Bound]) -> Bound:

        from_ = node.args.get("from_") or node.args.get("from")
        group = node.args.get("group")
        if group is None and self._aggregates_only(node):
            return Bound("bounded", "aggregate without GROUP BY")
        if group is not None and self._repeats_only(node.args.get("having")):
            return Bound("bounded", "only the groups that repeat (HAVING COUNT(...) > 1): "
                         "duplicates or conflicts, expected to be few")
        if from_ is None:
            return Bound("bounded", "no FROM clause: one row")
        grouped = self._plain_groups(node, group) if group is not None else None
        where = node.args.get("where")
        if where is not None and self._rownum_bound(where.this):
            return Bound("bounded", "ROWNUM bound")
        sources = [from_.this, *(join.this for join in node.args.get("joins") or [])]
        tables = []
        source_bounds: list[Bound] = []
        for source in sources:
            bound, table = self._source(source, ctes)
            source_bounds.append(bound)
            if table is not None:
                tables.append(table)
        if where is not None:
            key = self._key_equality(where.this, tables)
            if key is not None:
                return Bound("bounded", f"WHERE equality on key column `{key}`")
        if all(b.bounded for b in source_bounds):
            return Bound("bounded", source_bounds[0].reason if len(source_bounds) == 1
                         else "every source is bounded")
        for bound in source_bounds:
            if bound.verdict == "unknown":
                return bound
        names = ", ".join(f"`{t}`" for t in tables) or "its source"
        if grouped is not None:
            return Bound("unbounded", f"one row per distinct `{grouped}` of {names}",
                         grouped=grouped)
        if where is None:
            return Bound("unbounded", f"no LIMIT and no WHERE on {names}")
        parent = self._parent_equality(where.this)
        if parent is not None:
            return Bound("unbounded", f"no LIMIT on {names}: all the rows of one `{parent}`",
                         parent=parent)
        return Bound("unbounded", f"no LIMIT and no key equality in the WHERE on {names}")

    def _source(self, source: Any, ctes: dict[str, Bound]) -> tuple[Bound, str | None]:
        from sqlglot import exp

        if isinstance(source, exp.Table):
            if not isinstance(source.this, exp.Identifier):
                # A table function (generate_series, json_each, unnest …): unknown size.
                return Bound("unknown", "reads a table function"), None
            name = source.name.lower()
            schema = (source.db or "").lower()
            if not source.db and name in ctes:
                return ctes[name], name
            if name in self.small_tables or f"{schema}.{name}" in self.small_tables:
                return Bound("bounded", f"`{name}` is listed in small-tables"), name
            if is_catalog_table(schema, name):
                return Bound("bounded", f"`{name}` is a catalog table"), name
            return Bound("unbounded", f"reads `{name}`"), name
        if isinstance(source, exp.Subquery):
            return self.query(source.this, ctes), None
        if isinstance(source, exp.Values):
            return Bound("bounded", "VALUES with literal rows"), None
        if isinstance(source, (exp.Unnest, exp.Lateral)):
            return Bound("unknown", "reads an UNNEST/LATERAL source"), None
        return Bound("unknown", f"reads a {type(source).__name__}"), None

    def _repeats_only(self, having: Any) -> bool:
        """``HAVING COUNT(*) > 1`` (or ``>= 2``, optionally AND-ed with more): the groups that
        occur more than once. A duplicate or conflict check, like Django's count filter after
        ``annotate`` (see ``analysis.fetch_orm.django_chain_bound``)."""
        from sqlglot import exp

        if having is None:
            return False
        for condition in _conjuncts(having.this):
            if isinstance(condition, (exp.GT, exp.GTE)) and isinstance(condition.this, exp.Count) \
                    and isinstance(condition.expression, exp.Literal) \
                    and condition.expression.is_int:
                least = int(condition.expression.name) + (1 if isinstance(condition, exp.GT) else 0)
                if least >= 2:
                    return True
        return False

    def _plain_groups(self, node: Any, group: Any) -> str | None:
        """The grouping columns, when every projection is an aggregate or one of them and
        each is a plain column (:func:`is_plain_group_name`)."""
        from sqlglot import exp

        columns = list(group.expressions)
        if not columns or not all(isinstance(c, exp.Column) and not _is_hole(c)
                                  and is_plain_group_name(c.name, self.bounded_columns)
                                  for c in columns):
            return None
        names = {c.name.lower() for c in columns}
        saw_aggregate = False
        for projection in node.expressions:
            inner = projection.unalias() if isinstance(projection, exp.Alias) else projection
            if inner.find(exp.Window) is not None:
                return None
            if inner.find(exp.AggFunc) is not None:
                saw_aggregate = True
            elif not (isinstance(inner, exp.Column) and inner.name.lower() in names):
                return None
        return ", ".join(c.name.lower() for c in columns) if saw_aggregate else None

    def _aggregates_only(self, node: Any) -> bool:
        from sqlglot import exp

        projections = node.expressions
        if not projections:
            return False
        saw_aggregate = False
        for projection in projections:
            inner = projection.unalias() if isinstance(projection, exp.Alias) else projection
            if inner.find(exp.Window) is not None:
                return False
            if inner.find(exp.AggFunc) is not None:
                saw_aggregate = True
                # A column outside any aggregate means one row per something in most engines.
                for column in inner.find_all(exp.Column):
                    if column.find_ancestor(exp.AggFunc) is None:
                        return False
            elif isinstance(inner, (exp.Literal, exp.Null, exp.Boolean)):
                continue
            else:
                return False
        return saw_aggregate

    def _rownum_bound(self, condition: Any) -> bool:
        from sqlglot import exp

        for part in _conjuncts(condition):
            if isinstance(part, (exp.LT, exp.LTE, exp.EQ)):
                left, right = part.this, part.expression
                if isinstance(left, exp.Column) and left.name.lower() == "rownum":
                    return True
                if isinstance(right, exp.Column) and right.name.lower() == "rownum":
                    return True
        return False

    def _key_equality(self, condition: Any, tables: list[str]) -> str | None:
        from sqlglot import exp

        keys = set(_KEY_COLUMNS) | self.bounded_columns
        for table in tables:
            keys.add(f"{table}_id")
            keys.add(f"{table}_uuid")
            if table.endswith("s"):
                keys.add(f"{table[:-1]}_id")
                keys.add(f"{table[:-1]}_uuid")
            if table.endswith("ies"):
                keys.add(f"{table[:-3]}y_id")
        for part in _conjuncts(condition):
            column = None
            if isinstance(part, exp.EQ):
                for side, other in ((part.this, part.expression), (part.expression, part.this)):
                    side, other = _case_folded(side), _case_folded(other)
                    if isinstance(side, exp.Column) and not _is_hole(side) and (
                            not isinstance(other, exp.Column) or _is_hole(other)):
                        column = side
                        break
            elif isinstance(part, exp.In) and not part.args.get("query") and part.expressions \
                    and isinstance(part.this, exp.Column) and all(
                        not isinstance(e, exp.Column) or _is_hole(e) for e in part.expressions):
                column = part.this
            if column is None:
                continue
            name = column.name.lower()
            qualified = f"{column.table.lower()}.{name}" if column.table else name
            if name in keys or qualified in self.bounded_columns or any(
                    f"{table}.{name}" in self.bounded_columns for table in tables):
                return name
        return None

    def _parent_equality(self, condition: Any) -> str | None:
        """A ``<parent>_id = ?`` conjunct: the children of one row (not a literal: a status code
        such as ``state_id = 3`` picks a class of rows, not one parent's)."""
        from sqlglot import exp

        for part in _conjuncts(condition):
            if not isinstance(part, exp.EQ):
                continue
            for side, other in ((part.this, part.expression), (part.expression, part.this)):
                if isinstance(side, exp.Column) and not _is_hole(side) \
                        and is_parent_key_name(side.name) \
                        and _is_parameter(other):
                    return str(side.name.lower())
        return None

    # --- writes -------------------------------------------------------------------------

    def write(self, node: Any) -> Bound:
        from sqlglot import exp

        returning = node.args.get("returning")
        verb = type(node).__name__.upper()
        if returning is None:
            return Bound("bounded", f"{verb} without RETURNING returns no rows")
        if isinstance(node, exp.Insert):
            source = node.expression
            if isinstance(source, exp.Values) or source is None:
                return Bound("bounded", "INSERT of literal rows")
            return Bound("unbounded", "INSERT … SELECT … RETURNING returns every inserted row")
        where = node.args.get("where")
        table = node.this.name.lower() if isinstance(node.this, exp.Table) else ""
        if where is not None and self._key_equality(where.this, [table] if table else []):
            return Bound("bounded", f"{verb} on a key with RETURNING")
        if where is not None and table and self._joined_on_key_to_bounded(node, table, where.this):
            return Bound("bounded", f"{verb} joined on its key to a bounded source, with "
                         "RETURNING: at most one changed row per source row")
        if where is not None and self._key_in_limited_subquery(where.this, table):
            return Bound("bounded", f"{verb} of the keys a limited subquery picks, with "
                         "RETURNING: at most the subquery's LIMIT")
        return Bound("unbounded", f"{verb} … RETURNING returns every changed row")

    def _key_in_limited_subquery(self, condition: Any, table: str) -> bool:
        """``WHERE id IN (SELECT id FROM t … LIMIT ?)`` (a conjunct) on the target table itself:
        the batch idiom of deleting or updating a few rows at a time. The subquery picks at most
        LIMIT values of the column from the same table, so at most that many rows change (more
        only when the column repeats, which the idiom's keys do not)."""
        from sqlglot import exp

        for part in _conjuncts(condition):
            column = part.this if isinstance(part, exp.In) else None
            query = part.args.get("query") if isinstance(part, exp.In) else None
            inner = query.this if isinstance(query, exp.Subquery) else query
            if not (isinstance(column, exp.Column) and isinstance(inner, exp.Select)
                    and inner.args.get("limit") is not None and len(inner.expressions) == 1):
                continue
            picked = inner.expressions[0]
            source = inner.args.get("from_") or inner.args.get("from")
            source_table = source.this if source is not None else None
            if isinstance(picked, exp.Column) and picked.name.lower() == column.name.lower() \
                    and isinstance(source_table, exp.Table) and source_table.name.lower() == table:
                return True
        return False

    def _joined_on_key_to_bounded(self, node: Any, table: str, condition: Any) -> bool:
        """``WITH batch AS (… LIMIT n) UPDATE t SET … FROM batch b WHERE t.id = b.id``: every
        extra source is bounded, and a conjunct equates the target's key with a source column,
        so each source row changes at most one target row."""
        from sqlglot import exp

        ctes: dict[str, Bound] = {}
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is not None:
            if with_.args.get("recursive"):
                return False
            for cte in with_.expressions:
                ctes[cte.alias_or_name.lower()] = self.query(cte.this, ctes)
        from_ = node.args.get("from_") or node.args.get("from")
        sources = [from_.this] if from_ is not None else list(node.args.get("using") or [])
        if not sources or not all(self._source(s, ctes)[0].bounded for s in sources):
            return False
        target = node.this
        names = {table, (target.alias or "").lower()} - {""}
        keys = set(_KEY_COLUMNS) | self.bounded_columns
        for part in _conjuncts(condition):
            if not (isinstance(part, exp.EQ) and isinstance(part.this, exp.Column)
                    and isinstance(part.expression, exp.Column)):
                continue
            for side, other in ((part.this, part.expression), (part.expression, part.this)):
                name = side.name.lower()
                if side.table.lower() in names and other.table.lower() not in names and (
                        name in keys or f"{table}.{name}" in self.bounded_columns):
                    return True
        return False


def _case_folded(node: Any) -> Any:
    """``LOWER(name)`` / ``UPPER(name)`` is ``name`` for a key equality: a key compared up to
    case picks one row, or the few that differ only in case."""
    from sqlglot import exp

    while isinstance(node, (exp.Lower, exp.Upper)):
        node = node.this
    return node


def _conjuncts(condition: Any) -> Iterable[Any]:
    from sqlglot import exp

    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        yield from _conjuncts(condition.this)
        yield from _conjuncts(condition.expression)
    else:
        yield condition
