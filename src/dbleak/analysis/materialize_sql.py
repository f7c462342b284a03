"""What a materialization site reads, and whether the read is bounded by nature.

The SQL text a site's rows come from (the ``execute()`` that made the cursor, the query call),
resolved as far as the module allows, and the judgement the DBL3xx rules share with DBL201:
catalog and metadata queries, a trailing ``LIMIT``, a bounding ORM call, the reads DBL201 found
bounded (``fetch_bound``).
"""
from __future__ import annotations

import ast
import re
from typing import Any

from dbleak.analysis.materialize import SQL_START, MaterializationSite, SiteModule
from dbleak.analysis.module import (
    statement_block,
    walk,
)


def statement_sql(ctx: Any, site: MaterializationSite, template: bool = False) -> str | None:
    """The SQL text the rows of a FETCHED site come from, when it can be resolved; with
    ``template``, the text as written, each part computed at run time a ``hole``."""
    module: SiteModule = ctx.__dict__["_materialization_module"]
    receiver = site.source.node
    while isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute):
        if receiver.func.attr == "execute" and receiver.args:
            return _resolve_sql(ctx, module, receiver, template)
        receiver = receiver.func.value
    if isinstance(receiver, ast.Name):
        bound = module.bound_value(receiver)
        if bound is not None and isinstance(bound[1], ast.Call) and bound[1].args:
            return _query_call_sql(ctx, module, bound[1], template)
        # The last `name.execute(sql)` before the fetch, in the same block.
        fetch_stmt = site.stmt
        block = statement_block(module.parent(fetch_stmt), fetch_stmt)
        if block is None:
            return None
        for stmt in reversed(block[:block.index(fetch_stmt)]):
            calls = [n for n in walk(stmt) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Attribute) and n.func.attr == "execute"
                     and isinstance(n.func.value, ast.Name) and n.func.value.id == receiver.id]
            if calls and isinstance(stmt, (ast.Expr, ast.Assign)) and calls[0].args:
                return _resolve_sql(ctx, module, calls[0], template)
            if isinstance(stmt, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == receiver.id for t in stmt.targets):
                if isinstance(stmt.value, ast.Call) and stmt.value.args:
                    return _query_call_sql(ctx, module, stmt.value, template)
                return None
            if calls and all(c.args for c in calls):
                # A `try`/`if` that runs one of several queries: known only when all agree
                # on being metadata commands.
                texts = [_resolve_sql(ctx, module, c) for c in calls]
                if all(t is not None and text_bound(ctx, t) == "bounded" for t in texts):
                    return texts[0]
                return None
            uses = [n for n in walk(stmt) if isinstance(n, ast.Name) and n.id == receiver.id]
            if uses and not all(_reads_attribute(module, use) for use in uses):
                return None  # the cursor is used some other way in between
    return None


# Attributes of a cursor that describe its last statement without running another.
_DESCRIPTIVE = frozenset({"description", "rowcount", "lastrowid", "arraysize"})


def _reads_attribute(module: SiteModule, use: ast.Name) -> bool:
    """``cursor.description`` (and kin): a read of what the last statement left."""
    parent = module.parent(use)
    return isinstance(parent, ast.Attribute) and parent.value is use and parent.attr in _DESCRIPTIVE


def _query_call_sql(ctx: Any, module: SiteModule, call: ast.Call, template: bool = False) -> str | None:
    """The SQL of `cursor = conn.execute(sql)` (or any `x.method(sql, ...)` whose first argument
    reads as SQL, such as a project's own `self.query(sql)`)."""
    if not isinstance(call.func, ast.Attribute) or not call.args:
        return None
    text = _resolve_sql(ctx, module, call, template)
    if call.func.attr.startswith(("execute", "_exec")):
        return text
    return text if text is not None and SQL_START.match(text) else None


def _resolve_sql(ctx: Any, module: SiteModule, execute: ast.Call, template: bool = False) -> str | None:
    argument = execute.args[0]
    if isinstance(argument, ast.Name):
        value = _last_assignment(module, execute, argument.id)
        if value is not None:
            argument = value
    return _template_text(argument) if template else _resolved_text(ctx, module, argument)


def _template_text(expr: ast.expr) -> str | None:
    """An f-string's text with each replacement field a ``hole``."""
    if not isinstance(expr, ast.JoinedStr):
        return None
    return "".join(part.value if isinstance(part, ast.Constant) and isinstance(part.value, str)
                   else " hole " for part in expr.values)


def _last_assignment(module: SiteModule, node: ast.AST, name: str) -> ast.expr | None:
    """Straight-line code: the value of the last `name = ...` before ``node``, searching the
    earlier statements of its block, then of the enclosing blocks (never across a loop or a
    function), stopping at any other binding of the name."""
    stmt = module.statement_of(node)
    while stmt is not None:
        owner = module.parent(stmt)
        block = statement_block(owner, stmt)
        if block is None:
            return None
        for earlier in reversed(block[:block.index(stmt)]):
            stores = [n for n in walk(earlier) if isinstance(n, ast.Name)
                      and n.id == name and isinstance(n.ctx, ast.Store)]
            if not stores:
                continue
            if isinstance(earlier, ast.Assign) and len(earlier.targets) == 1 and \
                    earlier.targets[0] is stores[0]:
                return earlier.value
            return None
        if not isinstance(owner, (ast.If, ast.Try, ast.With, ast.AsyncWith)):
            return None
        if isinstance(owner, ast.Try) and stmt not in owner.body:
            return None  # an `except`/`finally` block may start from any point of the `try`
        stmt = owner
    return None


def _resolved_text(ctx: Any, module: SiteModule, expr: ast.expr) -> str | None:
    try:
        from dbleak.analysis.fetch import fetch_analysis
    except ImportError:
        return module.constant_text(expr)
    scope_node = module.scope_of(expr)
    scope = next((s for s in ctx.facts.scopes if s.node is scope_node), None)
    if scope is None:
        return module.constant_text(expr)
    sql = fetch_analysis(ctx).resolver.resolve(expr, scope)
    return sql.text if sql is not None else None


# --- rewrites --------------------------------------------------------------------------------


_METADATA_COMMAND = re.compile(r"^\s*(PRAGMA|SHOW|EXPLAIN|DESCRIBE|DESC)\b", re.IGNORECASE)
# Catalog tables and SQLite's pragma table functions: the schema's size, not the data's.
_CATALOG = re.compile(r"\bFROM\s+[\"'`]?(?:\w*hole\w*[\"'`]?\s*\.\s*)?(sqlite_master|sqlite_schema|"
                      r"sqlite_temp_master|pg_catalog\s*\.|information_schema\s*\.|pragma_\w+\s*\()",
                      re.IGNORECASE)
_TRAILING_LIMIT = re.compile(r"\bLIMIT\s+(\d+|\w*hole\w*)(\s+OFFSET\s+\S+)?\s*;?\s*$",
                             re.IGNORECASE)
_ORM_BOUNDING = frozenset({"limit", "first", "one", "one_or_none", "get", "slice", "yield_per",
                           "fetch", "top"})


def fetch_bound(ctx: Any, site: MaterializationSite) -> str:
    """"bounded", "unbounded" or "unknown": how many rows the query of a FETCHED site reads.

    DBL201/DBL202 own the unbounded reads; DBL305 reports only where this says "unknown". The
    answer comes from the unbounded-read analysis when it is there (so the rules agree on every
    site), else from the SQL text and ``knowledge.sql`` alone.
    """
    call = site.node.value if isinstance(site.node, ast.Await) else site.node
    if site.source.fetch_method == "all":
        return _orm_bound(call)
    verdict = _dbapi_bounds(ctx).get(id(call))
    if verdict is not None and verdict != "unknown":
        return verdict
    sql = statement_sql(ctx, site)
    if sql is None:
        # SQL built at run time (`f"SELECT * FROM {table} LIMIT {n}"`): its written parts may
        # still bound it, whatever the holes stand for
        template = statement_sql(ctx, site, template=True)
        return "bounded" if template is not None and _bounded_by_text(template) else "unknown"
    return text_bound(ctx, sql)


def _bounded_by_text(sql: str) -> bool:
    return bool(_METADATA_COMMAND.match(sql) or _TRAILING_LIMIT.search(sql) or _CATALOG.search(sql))


def text_bound(ctx: Any, sql: str) -> str:
    """"bounded", "unbounded" or "unknown" for a query's text: the catalog and metadata shortcuts,
    then `knowledge.sql`."""
    if _bounded_by_text(sql):
        # `PRAGMA "%s".index_list("%s")`, `... LIMIT {n}`: bounded whatever the holes stand for.
        return "bounded"
    try:
        from dbleak.knowledge.sql import query_bound
    except ImportError:  # the SQL knowledge is optional: without it every query is "unknown"
        return "unknown"
    bound = query_bound(sql, None, ctx.settings)
    return str(bound.verdict)


def _dbapi_bounds(ctx: Any) -> dict[int, str]:
    cached = ctx.__dict__.get("_materialization_bounds")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    verdicts: dict[int, str] = {}
    fetch_sites: list[Any] = []
    try:
        from dbleak.analysis.fetch import dbapi_fetch_sites, fetch_analysis

        fetch_sites = list(dbapi_fetch_sites(fetch_analysis(ctx)))
    except (ImportError, AttributeError, TypeError):
        pass  # the unbounded-read analysis is optional here: fall back to the SQL text alone
    for fetch_site in fetch_sites:
        bound = fetch_site.bound
        verdicts[id(fetch_site.node)] = bound.verdict if bound is not None else "unknown"
    ctx.__dict__["_materialization_bounds"] = verdicts
    return verdicts


def _orm_bound(call: ast.AST) -> str:
    current = call.func.value if isinstance(call, ast.Call) and isinstance(
        call.func, ast.Attribute) else None
    while isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
        if current.func.attr in _ORM_BOUNDING:
            return "bounded"
        current = current.func.value
    return "unbounded"  # without a LIMIT the ORM read is unbounded
