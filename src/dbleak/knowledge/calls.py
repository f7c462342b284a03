"""What callables do with the objects passed to them, when dbleak cannot read their code:
builtins and library methods that only use an argument (borrow it), calls that keep it (a
container's ``append``, a registry's ``register``, an executor's ``submit``), and the method
names that release a database object.

The lifecycle analysis reads the project's own functions from their summaries; this table is
for everything else. A callee in neither is taken to borrow the argument (see
:mod:`dbleak.analysis.handover`): that is a guess, and a fix that depends on it is unsafe.
"""

from __future__ import annotations

import ast

# Method names that release a database object (close a connection, dispose an engine, give a
# scoped session back).
RELEASE_METHODS = frozenset({"close", "aclose", "dispose", "release", "disconnect", "terminate",
                             "shutdown", "closeall", "close_all", "ensure_closed", "remove"})
# Calls that only look at their arguments.
BORROWING_BUILTINS = frozenset({
    "print", "len", "isinstance", "issubclass", "id", "repr", "str", "type", "hasattr", "getattr",
    "bool", "hash", "callable", "vars", "dir", "format", "list", "tuple", "set", "frozenset",
    "sorted", "sum", "any", "all", "min", "max", "dict", "next", "int", "float",
})
# Logging calls: they only format their arguments, and the logging module reports its own
# errors (`Handler.handleError`) instead of raising them.
LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical",
                         "log"})
# Method names that only use their arguments, whatever the receiver (logging, pandas, a
# cursor's parameters, string formatting).
BORROWING_METHODS = LOG_METHODS | frozenset({
    "format", "to_sql", "read_sql", "read_sql_query", "read_sql_table", "execute", "executemany",
    "write", "writerow", "writerows", "assertIsNotNone", "assertIsInstance", "assertTrue",
    "assertEqual", "assertIs",
})
# Receivers (the attribute a method is called on) whose questions only use the connection they
# are given: SQLAlchemy's dialects (`engine.dialect.has_table(conn, "t")`, `.get_columns(conn,
# "t")`), their `has_*` / `get_*` methods, as the `Inspector` asks them.
BORROWING_RECEIVERS = frozenset({"dialect"})
BORROWING_RECEIVER_PREFIXES = ("has_", "get_")


def borrows_by_receiver(func: ast.expr) -> bool:
    """``x.dialect.has_table(...)``: a question asked of a receiver in ``BORROWING_RECEIVERS``."""
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) \
        and func.value.attr in BORROWING_RECEIVERS and func.attr.startswith(BORROWING_RECEIVER_PREFIXES)


# Method names by which a receiver keeps what it is given (a container, a registry, an
# executor that runs it later, an exit stack).
KEEPING_METHODS = frozenset({
    "append", "appendleft", "add", "extend", "insert", "put", "put_nowait", "push", "setdefault",
    "update", "register", "submit", "apply_async", "create_task", "ensure_future",
    "run_in_executor", "call_soon", "call_later", "call_soon_threadsafe", "start_soon", "spawn",
    "enter_context", "enter_async_context", "callback", "push_async_callback", "push_async_exit",
    "set", "attach", "adopt", "track", "bind", "addCleanup", "addAsyncCleanup", "setattr",
})
# Words in an unknown function's name that say it keeps its argument.
KEEPING_WORDS = frozenset({
    "register", "attach", "add", "append", "put", "push", "set", "store", "keep", "track",
    "manage", "adopt", "own", "cache", "bind", "install", "wrap", "enter", "save", "spawn",
    "start", "submit", "schedule", "thread", "partial", "finalize", "setattr",
})

# Container methods whose only argument is the element: with keyword arguments, the receiver is
# something else (`queries.add(conn, n=1)`: a query named "add").
CONTAINER_METHODS = frozenset({"append", "appendleft", "add", "extend", "insert", "put", "push",
                               "put_nowait"})


def keeps_argument(method: str, has_keywords: bool) -> bool:
    """Whether ``receiver.method(obj, ...)`` keeps ``obj`` by the method's name."""
    if method not in KEEPING_METHODS:
        return False
    return not (has_keywords and method in CONTAINER_METHODS)


def callee_keeps(name: str, is_method: bool, has_keywords: bool) -> bool:
    """Whether a callee nothing else is known of keeps what it is given, by its name: a
    keeping method (``registry.register(conn)``), a constructor (``Repository(conn)``), or a
    name that says so (``set_connection``, ``track``)."""
    if is_method and name in CONTAINER_METHODS:
        return not has_keywords
    if is_method and keeps_argument(name, has_keywords):
        return True
    return is_keeping_name(name)


def is_keeping_name(name: str) -> bool:
    """Whether an unknown callee's name says it keeps what it is given."""
    if name[:1].isupper():
        return True  # a constructor: the new object may hold it
    words = {w for w in name.lower().split("_") if w}
    return bool(words & KEEPING_WORDS)


# Calls whose result wraps their argument lazily: the argument goes where the result goes.
LAZY_WRAPPERS = frozenset({"enumerate", "zip", "map", "filter", "iter", "reversed"})
# Bases of transparent proxies: an instance of a class deriving from one, made with an object as
# its first argument, forwards every attribute (`close()`, `__enter__`/`__exit__` included) to
# that object, so it is that object to whoever holds it.
PROXY_BASES = frozenset({"wrapt.ObjectProxy", "wrapt.CallableObjectProxy", "wrapt.proxies.ObjectProxy",
                         "wrapt.wrappers.ObjectProxy"})
# Methods that only record settings on the object (SQLAlchemy's
# `Engine.update_execution_options()`, APSW's `Connection.setbusytimeout()`): no I/O, nothing a
# caller guards against, so no raise point between an object's creation and its release.
SETTINGS_ONLY_METHODS = frozenset({"update_execution_options", "setbusytimeout"})
# Method names by which a pool takes a connection back.
POOL_RELEASE_METHODS = frozenset({"putconn", "release", "release_connection"})
# Classes whose instances run on with what they are given (a thread, a process, a timer): an
# instance of one kept in a local is no holder that drops its argument with the scope.
RUNNING_CLASSES = frozenset({"Thread", "Process", "Timer", "Greenlet", "Task"})
# Method names by which an exit stack takes ownership.
STACK_METHODS = frozenset({"enter_context", "enter_async_context", "callback", "push",
                           "push_async_callback", "push_async_exit"})


def calls_markdown() -> str:
    """The tables above as markdown (docs/lifecycle.md holds this text; a test keeps it so)."""
    rows = [
        ("Release the object (a call on it)", RELEASE_METHODS),
        ("Builtins that only use their argument", BORROWING_BUILTINS),
        ("Methods that only use their argument, whatever the receiver", BORROWING_METHODS),
        ("`has_*` / `get_*` methods of these receivers only use their argument", BORROWING_RECEIVERS),
        ("Methods by which the receiver keeps its argument", KEEPING_METHODS),
        ("… unless given keyword arguments (then the receiver is no container)", CONTAINER_METHODS),
        ("Words of an unknown callee's name that say it keeps its argument", KEEPING_WORDS),
        ("Builtins whose result wraps the argument (it goes where the result goes)", LAZY_WRAPPERS),
        ("Bases of transparent proxies (an instance is the object it is given first)", PROXY_BASES),
        ("Methods by which a pool takes a connection back", POOL_RELEASE_METHODS),
        ("Methods by which an exit stack takes ownership", STACK_METHODS),
        ("Classes whose local instance runs on with its argument (no holder dropped with the scope)",
         RUNNING_CLASSES),
    ]
    out = ["| what | names |", "|---|---|"]
    out.extend(f"| {what} | {', '.join(f'`{n}`' for n in sorted(names))} |" for what, names in rows)
    return "\n".join(out) + "\n"
