"""Syntax the resource-flow analysis (:mod:`dbleak.analysis.flow`) reads without any state:
what may raise, which handlers catch everything, the guards and flags an ``if`` tests, the
names a nested function reads, and the scopes that lend what they yield.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator, Mapping

from dbleak.analysis.module import SCOPE_NODES, walk, walk_same_scope, walk_scope
from dbleak.analysis.origins import function_kind
from dbleak.knowledge.calls import LOG_METHODS, SETTINGS_ONLY_METHODS

# Builtins (but `next`, which resumes a generator that may yield a connection).
_BUILTIN_NAMES = frozenset(name for name in dir(builtins) if name != "next")


def is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def in_main_guard(node: ast.AST, parents: Mapping[int, ast.AST]) -> bool:
    """Whether ``node`` runs under ``if __name__ == "__main__":``."""
    above: ast.AST | None = node
    while above is not None:
        if isinstance(above, ast.If) and is_main_guard(above.test):
            return True
        above = parents.get(id(above))
    return False


def self_attr(node: ast.AST) -> str | None:
    """``attr`` for ``self.attr``."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    return None


def raising_header(stmt: ast.AST) -> bool:
    """Whether the statement's own expressions (not a compound statement's body) hold a call
    or an explicit raise: attribute sets (`conn.row_factory = Row`) do not count."""
    if isinstance(stmt, (ast.Raise, ast.Assert)):
        return True
    if isinstance(stmt, (ast.If, ast.While)):
        parts: list[ast.AST] = [stmt.test]
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        parts = [stmt.iter]
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        parts = [item.context_expr for item in stmt.items]
    elif isinstance(stmt, (ast.Try, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return False
    else:
        parts = [stmt]
    return any(isinstance(n, (ast.Call, ast.Await)) for part in parts for n in walk_expr(part))


# Builtins that do not raise on any argument, and PEP 249 attributes that are plain reads: no
# reason for a `try` around them.
_SAFE_BUILTINS = frozenset({"hasattr", "isinstance", "issubclass", "id", "type", "callable"})
_PLAIN_ATTRIBUTES = frozenset({"rowcount", "lastrowid", "description", "statusmessage",
                               "total_changes", "in_transaction", "closed", "autocommit",
                               "isolation_level", "row_factory", "text_factory", "arraysize"})


def is_log_call(call: ast.Call) -> bool:
    """``log(...)``/``logger.exception(...)`` with plain arguments: no new way out of a handler
    (the logging module reports its own errors)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in LOG_METHODS:
        return False
    if isinstance(func, ast.Attribute) and not isinstance(func.value, (ast.Name, ast.Attribute)):
        return False
    # only plain arguments: names, constants, attributes and f-strings of them
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        for sub in ast.walk(arg):
            if isinstance(sub, (ast.Call, ast.Subscript, ast.Await, ast.BinOp)):
                return False
    return True


def is_plain_cursor_call(call: ast.Call) -> bool:
    """``conn.cursor(...)`` whose arguments are names, dotted names or constants (a cursor class,
    ``cursor_factory=RealDictCursor``, ``dictionary=True``, a cursor's name)."""
    def plain(value: ast.AST) -> bool:
        while isinstance(value, ast.Attribute):
            value = value.value
        return isinstance(value, (ast.Name, ast.Constant))

    return isinstance(call.func, ast.Attribute) and call.func.attr == "cursor" \
        and isinstance(call.func.value, ast.Name) \
        and all(plain(a) for a in call.args) and all(plain(k.value) for k in call.keywords)


def _is_plain_close(call: ast.Call) -> bool:
    """``name.close()`` or ``self.name.close()``, with no argument."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "close") or call.args or call.keywords:
        return False
    value = func.value
    if isinstance(value, ast.Attribute):
        value = value.value
    return isinstance(value, ast.Name)


def may_raise(node: ast.AST, yields: bool = True) -> bool:
    """Whether evaluating ``node`` may raise (``yields``: a `yield` may get an exception)."""
    skipped: set[int] = set()
    for sub in walk_expr(node):
        if id(sub) in skipped:
            continue
        if isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Name) and sub.func.id in _SAFE_BUILTINS:
                continue
            if is_log_call(sub):
                continue
            if _is_plain_close(sub):
                # `cursor.close()` before `connection.close()`: closing is cleanup, not a
                # failure worth a `try` of its own
                skipped.update(id(n) for n in ast.walk(sub))
                continue
            if isinstance(sub.func, ast.Attribute) and sub.func.attr in SETTINGS_ONLY_METHODS \
                    and isinstance(sub.func.value, ast.Name):
                continue  # `engine.update_execution_options(...)`: sets options, no I/O
            if is_plain_cursor_call(sub):
                # `cur = conn.cursor()`, `conn.cursor(pymysql.cursors.DictCursor)`: a DB-API
                # cursor is made without I/O (the query runs at `execute()`); it fails only on
                # a connection already closed, a bug of its own
                skipped.update(id(n) for n in ast.walk(sub))
                continue
            return True
        if isinstance(sub, (ast.Await, ast.Subscript, ast.BinOp, ast.Raise, ast.Assert)):
            return True
        if yields and isinstance(sub, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load):
            if sub.attr in _PLAIN_ATTRIBUTES or isinstance(sub.value, ast.Name):
                continue  # `self._lock`, `sqlite3.Row`: a read of what is there
            return True
    return False




def walk_expr(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of an expression of this scope (a lambda's body belongs to the lambda)."""
    if isinstance(node, SCOPE_NODES):
        yield node
        if isinstance(node, ast.Lambda):
            for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
                yield from walk_expr(default)
        return
    yield from walk_same_scope(node)


def holds_any(stmt: ast.AST, nodes: list[ast.AST]) -> bool:
    """Whether one of ``nodes`` lies within the lines of ``stmt``."""
    first = getattr(stmt, "lineno", None)
    last = getattr(stmt, "end_lineno", first)
    if first is None or last is None:
        return False
    return any(first <= getattr(n, "lineno", 0) <= last for n in nodes)


def free_names(node: ast.AST) -> set[str]:
    """Names a nested function/lambda/class reads (roughly: loads not bound inside it)."""
    loads: set[str] = set()
    stores: set[str] = set()
    shared: set[str] = set()
    for sub in walk(node):
        if isinstance(sub, ast.Name):
            (loads if isinstance(sub.ctx, ast.Load) else stores).add(sub.id)
        elif isinstance(sub, ast.arg):
            stores.add(sub.arg)
        elif isinstance(sub, ast.Nonlocal):
            shared.update(sub.names)  # bound inside, yet the enclosing scope's variable
    return (loads - stores) | shared


def is_pytest_fixture(scope: ast.AST) -> bool:
    return isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) \
        and function_kind(scope) == "fixture"


def returns_to_each_test(scope: ast.AST) -> bool:
    """A function-scoped pytest fixture that returns its value (no ``yield``): pytest gives the
    value to one test and keeps nothing to close it with afterwards."""
    if not is_pytest_fixture(scope):
        return False
    assert isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
    for deco in scope.decorator_list:
        if isinstance(deco, ast.Call):
            for keyword in deco.keywords:
                if keyword.arg == "scope" and not (
                        isinstance(keyword.value, ast.Constant) and keyword.value.value == "function"):
                    return False  # a module's or a session's: it lives as long as they do
    # A fixture that registers a teardown (`request.addfinalizer(teardown)`) closes there what
    # it chooses (`close_all_sessions()`): what it returns is not left to nobody.
    return not any(isinstance(sub, (ast.Yield, ast.YieldFrom))
                   or isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
                   and sub.func.attr == "addfinalizer"
                   for sub in walk_scope(scope))


def returned_to_nobody(scope: ast.AST) -> str | None:
    """Why what ``scope`` returns is left to nobody, or None: ``"fixture-return"`` for a
    function-scoped pytest fixture (see :func:`returns_to_each_test`), ``"enter-return"`` for
    a context manager's ``__enter__``/``__aenter__``: the ``with`` statement hands the value
    to its block and calls ``__exit__``, which holds no reference to what was returned (what
    ``__enter__`` also keeps on ``self`` is the class's to release)."""
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) \
            and scope.name in ("__enter__", "__aenter__"):
        return "enter-return"
    return "fixture-return" if returns_to_each_test(scope) else None


def lends_what_it_yields(scope: ast.AST) -> bool:
    """A pytest fixture or a ``@contextmanager`` generator lends what it yields: the test or the
    ``with`` body uses it and the generator resumes after it, so closing it is still its job."""
    return isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) \
        and function_kind(scope) in ("fixture", "contextmanager")


_INTERRUPTS = frozenset({"KeyboardInterrupt", "SystemExit", "GeneratorExit", "CancelledError"})


def is_interrupt_only(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return False
    names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
    for node in names:
        name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
        if name not in _INTERRUPTS:
            return False
    return True


def is_catch_all(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
    return any(isinstance(n, ast.Name) and n.id in ("Exception", "BaseException") for n in names)


def flag_guard(test: ast.expr) -> tuple[str | None, bool]:
    """(name or ``self.attr``, branch taken when it is true) for ``if x:`` / ``if not x:``."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        key, when = flag_guard(test.operand)
        return key, not when
    if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Is, ast.IsNot))
            and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None):
        key, when = flag_guard(test.left)  # `x is None` read as `not x`: a flag is never None-ish else
        return key, when if isinstance(test.ops[0], ast.IsNot) else not when
    if isinstance(test, ast.Name):
        return test.id, True
    if isinstance(test, ast.Attribute) and isinstance(test.value, ast.Name) and test.value.id == "self":
        return f"self.{test.attr}", True
    return None, True


def guard(test: ast.expr) -> tuple[str | None, bool]:
    """(name, branch taken when the name holds a resource) for simple None/truthiness guards,
    and ``x.closed`` (false while the object the name holds is open: psycopg2's and psycopg's
    connections, SQLAlchemy's, many wrappers)."""
    if isinstance(test, ast.Name):
        return test.id, True
    if isinstance(test, ast.Attribute) and test.attr == "closed" and isinstance(test.value, ast.Name):
        return test.value.id, False
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        name, when = guard(test.operand)
        return name, not when
    if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name)
            and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None):
        op = test.ops[0]
        if isinstance(op, (ast.Is, ast.Eq)):
            return test.left.id, False
        if isinstance(op, (ast.IsNot, ast.NotEq)):
            return test.left.id, True
    return None, True
