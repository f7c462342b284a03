"""Project-index summaries of helpers that read the whole result of a SQL parameter.

``def fetch_rows(sql): cur.execute(sql); return cur.fetchall()`` is summarized as "reads all
rows of its parameter ``sql`` (argument 0)", so every call site whose SQL resolves can be judged
where the SQL is written. A helper that passes its parameter on to such a helper is summarized
with ``via``; :func:`helper_read` follows the chain through the index.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbleak.analysis.fetch import FetchAnalysis, dbapi_fetch_sites, dialect_of
from dbleak.analysis.module import ModuleFacts, Scope
from dbleak.analysis.project import SUMMARIZERS, ProjectIndex, module_functions
from dbleak.settings import Settings

READS_PARAM_KEY = "reads-all-of-param"
READ_SQL_FUNCTIONS = frozenset({"pandas.read_sql", "pandas.read_sql_query",
                                "pandas.io.sql.read_sql", "pandas.io.sql.read_sql_query"})
_SQL_PARAM_WORDS = ("sql", "query", "stmt", "statement")
_MAX_CHAIN = 6


@dataclass(frozen=True)
class HelperRead:
    """What a call to a project helper reads: which argument is the SQL, and how it is read."""

    helper: str  # the qualified name of the helper called at the site
    index: int  # positional index of the SQL argument at the call site
    param: str  # its parameter name (for keyword calls)
    kind: str  # "fetchall" or "read-sql"
    dialect: str | None


def _params(function: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> list[str]:
    names = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in function.decorator_list)
    if is_method and not static and names:
        names = names[1:]
    return names


def _scope_of(facts: ModuleFacts, node: ast.AST) -> Scope | None:
    for scope in facts.scopes:
        if scope.node is node:
            return scope
    return None


def method_qualname(facts: ModuleFacts, call: ast.Call, scope: Scope) -> str | None:
    """``module.Class.method`` for ``self.method(...)`` inside a method of a top-level class."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id in ("self", "cls")):
        return None
    current: Scope | None = scope
    while current is not None and not isinstance(current.node, ast.ClassDef):
        current = current.parent
    if current is None or current.parent is not facts.module_scope \
            or not isinstance(current.node, ast.ClassDef):
        return None
    prefix = f"{facts.module_name}." if facts.module_name else ""
    return f"{prefix}{current.node.name}.{func.attr}"


def callee_qualname(facts: ModuleFacts, call: ast.Call, scope: Scope) -> str | None:
    return facts.call_qualname(call) or method_qualname(facts, call, scope)


def summarize_fetch_helpers(facts: ModuleFacts) -> Mapping[str, Mapping[str, Any]]:
    """``{qualname: {"reads-all-of-param": {...}}}`` for the helpers of one module."""
    interesting = False
    for site in facts.calls:
        func = site.node.func
        if isinstance(func, ast.Attribute) and func.attr in ("fetchall", "read_sql",
                                                             "read_sql_query"):
            interesting = True
            break
        if isinstance(func, (ast.Name, ast.Attribute)) and site.node.args and \
                isinstance(site.node.args[0], ast.Name) and \
                any(w in site.node.args[0].id.lower() for w in _SQL_PARAM_WORDS):
            interesting = True
    if not interesting:
        return {}
    analysis = FetchAnalysis(facts, Settings(), facts.drivers)
    functions = module_functions(facts)
    methods = {q for q, f in functions.items() if q.count(".") > (1 if facts.module_name else 0)
               and _is_method(facts, f)}
    found: dict[str, dict[str, Any]] = {}
    by_scope: dict[int, str] = {}
    for qualname, function in functions.items():
        by_scope[id(function)] = qualname
    for fetch in dbapi_fetch_sites(analysis):
        owner = by_scope.get(id(fetch.scope.node))
        if owner is None or fetch.executed is None:
            continue
        record = _param_record(analysis, functions[owner], owner in methods, fetch.scope,
                               fetch.executed.call.args[0])
        if record is not None:
            found[owner] = {READS_PARAM_KEY: {**record, "kind": "fetchall",
                                              "dialect": dialect_of(fetch.cursor)}}
    for site in facts.calls:
        caller = by_scope.get(id(site.scope.node))
        if caller is None or caller in found or not site.node.args:
            continue
        qualname = caller
        call = site.node
        callee = facts.call_qualname(call)
        if callee in READ_SQL_FUNCTIONS:
            if any(k.arg == "chunksize" for k in call.keywords):
                continue
            record = _param_record(analysis, functions[qualname], qualname in methods,
                                   site.scope, call.args[0])
            if record is not None:
                found[qualname] = {READS_PARAM_KEY: {**record, "kind": "read-sql",
                                                     "dialect": None}}
            continue
        callee = callee or method_qualname(facts, call, site.scope)
        if callee is None or callee == qualname:
            continue
        for position, arg in enumerate(call.args):
            if isinstance(arg, ast.Name) and any(w in arg.id.lower() for w in _SQL_PARAM_WORDS):
                record = _param_record(analysis, functions[qualname], qualname in methods,
                                       site.scope, arg)
                if record is not None:
                    found[qualname] = {READS_PARAM_KEY: {**record, "via": callee,
                                                         "via_index": position}}
                    break
    return found


def _is_method(facts: ModuleFacts, function: ast.AST) -> bool:
    for node in facts.tree.body:
        if isinstance(node, ast.ClassDef) and function in node.body:
            return True
    return False


def _param_record(analysis: FetchAnalysis, function: ast.FunctionDef | ast.AsyncFunctionDef,
                  is_method: bool, scope: Scope, sql: ast.expr) -> dict[str, Any] | None:
    if not isinstance(sql, ast.Name):
        return None
    params = _params(function, is_method)
    if sql.id not in params:
        return None
    bindings = analysis.resolver.assignments(scope).get(sql.id, [])
    if len(bindings) != 1:
        return None  # reassigned inside the helper: the argument is not what is executed
    return {"param": sql.id, "index": params.index(sql.id)}


def own_helper_reads(facts: ModuleFacts) -> Mapping[str, Mapping[str, Any]]:
    """This module's own helper summaries, made once per module: a text checked on its own
    (the editor's buffer, a round of ``--fix``) reads its helpers from its text, not from a run's
    index nor from the file on disk."""
    cached: Mapping[str, Mapping[str, Any]] | None = getattr(facts, "_dbleak_fetch_helpers", None)
    if cached is None:
        cached = summarize_fetch_helpers(facts)
        facts._dbleak_fetch_helpers = cached  # type: ignore[attr-defined]
    return cached


def checked_module_reads(facts: ModuleFacts, project: ProjectIndex) -> Mapping[str, Mapping[str, Any]] | None:
    """The module's own helper summaries to read before the index's: none in a whole run (its
    index holds them already), this text's for a text checked on its own; None when nothing
    can say what a helper reads (no index, no modules on disk, no helper of its own)."""
    if project.functions:
        return {}
    own = own_helper_reads(facts)
    return own if own or project.finder is not None else None


def helper_read(project: ProjectIndex, qualname: str | None,
                own: Mapping[str, Mapping[str, Any]] | None = None) -> HelperRead | None:
    """Follow ``via`` links from ``qualname`` to a helper that reads all rows of a parameter
    (``own``: the checked module's summaries, which win over the index's)."""
    if qualname is None:
        return None
    own = own or {}

    def summary_of(name: str) -> Mapping[str, Any] | None:
        found = own.get(name)
        if found is not None:
            return found
        indexed = project.get(name)
        return indexed.facts if indexed is not None else None

    summary = summary_of(qualname)
    if summary is None:
        return None
    record = summary.get(READS_PARAM_KEY)
    if record is None:
        return None
    index, param = record["index"], record["param"]
    current = record
    seen = {qualname}
    for _ in range(_MAX_CHAIN):
        via = current.get("via")
        if via is None:
            return HelperRead(qualname, index, param, current["kind"], current.get("dialect"))
        if via in seen:
            return None
        seen.add(via)
        inner = summary_of(via)
        following = inner.get(READS_PARAM_KEY) if inner is not None else None
        if following is None:
            return None
        if following["index"] != current["via_index"]:
            return None  # the parameter is passed in another position than the one read
        current = following
    return None


def sql_argument(call: ast.Call, read: HelperRead) -> ast.expr | None:
    """The expression passed as the helper's SQL parameter at ``call``."""
    if read.index < len(call.args):
        arg = call.args[read.index]
        return None if isinstance(arg, ast.Starred) else arg
    for keyword in call.keywords:
        if keyword.arg == read.param:
            return keyword.value
    return None


SUMMARIZERS.append(summarize_fetch_helpers)
