"""DBL106 owner-never-closes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dbleak.analysis.owners import (
    never_released,
    owned_objects,
    reopened,
    reopened_globals,
    request_globals,
)
from dbleak.knowledge.drivers import DriverTable, Kind
from dbleak.models import Finding
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.rules.dbl101_unclosed_connection import lifecycle_triggers

_WORD = {Kind.CONNECTION: "connection", Kind.SESSION: "session", Kind.CURSOR: "cursor",
         Kind.ENGINE: "engine"}


class OwnerNeverCloses(Rule):
    """
    ## What it does
    Flags a class that stores a connection, session or cursor on `self` (directly, through a
    local name, or as a `functools.cached_property`) when no code that could release it does:
    no method of the class or of its bases in the project (`close`, `__exit__`, `__del__`, …),
    no subclass in the module, and no caller in the module (`obj.conn.close()`). An engine is
    flagged the same way, also when the class has no release method at all: its pool then
    lives as long as the instance, and every instance the program makes leaves one behind
    (measured: on the fix commits of the recall corpus this finds six engines maintainers
    later disposed, for four objects of the corpus review made once per process). An engine
    kept only by what an attribute holds, made with it (`self.db =
    scoped_session(sessionmaker(bind=engine))`: a session factory never disposes its bind), is
    judged the same way. Also flags a method that stores a new connection on an attribute
    that may still hold an open one (another method stores one too, the class calls it more
    than once, or it is a `@property`, which runs on every read) without closing it or
    checking it first.

    Flask's request globals are an owner too: a connection, session or cursor stored on `g`
    (`g.session = Session()`, `db = g._database = sqlite3.connect(...)`) is flagged in a module
    that registers teardown functions (`@app.teardown_request`, `@app.teardown_appcontext`,
    `app.teardown_appcontext(close_db)`) when none of them, nor a module function they call,
    mentions that attribute (`g.pop("db")`, `getattr(g, "_database", None)`): `g` is dropped
    at the end of each request with the object still open. A module with no teardown
    function is not flagged (the application's may be registered in another module).

    A module is the owner of its globals: a function that binds one to a new engine, session
    or connection (`global engine; engine = create_engine(...)`) while the module binds it to
    one of the same kind at import is flagged when the function runs more than once (the
    module calls it from two places, or from a loop or a function nested in another, such as
    a decorator's wrapper) and neither releases the old one first (`engine.dispose()`), nor
    tests it (`if session is None:`), nor keeps it aside (`old = conn`), nor retries in a
    `try`: each call leaves the previous object open (an engine, its pool's connections) until
    it is garbage-collected.

    A method that closes the attribute's object and then stores a new one on it
    (`if self.conn: self.conn.close()` then `self.conn = conn`) replaces it: it is no release
    of what the instance ends with.

    ## Why is this bad?
    The object owns the connection: nobody else knows to close it. Every instance leaks one
    connection, for as long as the instance lives, and there is no way for a caller to release
    it short of reaching into the attribute.

    ## Example
    ```python
    import sqlite3

    class Repository:
        def __init__(self, path):
            self.conn = sqlite3.connect(path)

        def names(self):
            return self.conn.execute("SELECT name FROM t").fetchall()
    ```

    ## Use instead
    ```python
    import sqlite3

    class Repository:
        def __init__(self, path):
            self.conn = sqlite3.connect(path)

        def names(self):
            return self.conn.execute("SELECT name FROM t").fetchall()

        def close(self):
            self.conn.close()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()
    ```

    ## Known problems
    A use of the attribute that hands it to other code (returned, aliased, stored, given to a
    constructor or a keeping call) counts as a possible release; a call of the project that
    only uses it (its summary says so) does not, nor does a return from a private method
    (`def _get_engine(self): ... return self._engine`) that no code of the module calls on
    another object than `self` and whose results the class's own calls only use
    (`engine = self._get_engine()`, then `run(engine)` of a function that borrows it, also
    through a `lambda` it hands to a retry helper), nor does a `close()` in an `except` block
    that re-raises (the clean-up of a failure), nor a local alias that only puts it back
    (`old = self.conn` ... `self.conn = old`), nor a method call on it in a closure of a
    method (`def save(): self.conn.commit()`: the closure keeps `self`, not the connection).
    A method that stores a new connection after taking the old one aside and closing it or
    handing it on (`old = self.conn`, `self.conn = connect()`, `old.close()`) replaces it. A
    release method bound on the instance closes what it belongs to (`self.close = con.close`
    with `self.connection = con`, or `self.close = self.connection.close`): the class gives
    its users a way to close it, and an instance kept by another class is that class's to
    close (`self.archive = archive.connect(path)`).
    A base class from outside the project
    (`threading.Thread`, a framework's base) does not know the attributes its subclasses set
    and releases none of them; release it in the class (`close()`, `__exit__`, a teardown).
    A subclass in another module that releases it is not seen.

    ## Fix safety
    No fix: where to close depends on how the class is used.

    ## Options
    None.

    ## References
    - [contextlib: supporting a context manager](https://docs.python.org/3/reference/datamodel.html#context-managers)
    """

    code = "DBL106"
    name = "owner-never-closes"
    message = "the class stores a connection on `self` and never closes it"
    needs_project = True

    VALID = (
        ("import sqlite3\n\nclass R:\n    def __init__(self, p):\n        self.conn = sqlite3.connect(p)\n"
        "    def close(self):\n        self.conn.close()\n"),
        ("import sqlite3\n\nclass R:\n    def __init__(self, p):\n        self.conn = sqlite3.connect(p)\n"
        "    @property\n    def connection(self):\n        return self.conn\n"),
    )
    INVALID = (
        Example(
            "import sqlite3\n\nclass R:\n    def __init__(self, p):\n        self.conn = sqlite3.connect(p)\n"
            "    def names(self):\n        return self.conn.execute('select 1').fetchall()\n",
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return lifecycle_triggers(drivers)

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        for owned in owned_objects(ctx):
            if not never_released(ctx, owned):
                continue
            what, verb = _described(owned.spec.kind)
            if owned.through:
                message = (f"`{owned.class_node.name}` keeps {what} through `self.{owned.attr}`, "
                           f"which does not dispose it, and no method {verb} it")
            else:
                message = f"`{owned.class_node.name}` stores {what} on `self.{owned.attr}` and no method {verb} it"
            yield ctx.finding(cls, owned.node, message)
        for kept in request_globals(ctx):
            what, verb = _described(kept.spec.kind)
            yield ctx.finding(cls, kept.node, f"Flask's `g` keeps {what} on `g.{kept.attr}` for the request, "
                              f"and no teardown function of the module {verb} it")
        for again_global in reopened_globals(ctx):
            word = _WORD.get(again_global.spec.kind, "connection")
            verb = "disposing" if again_global.spec.kind is Kind.ENGINE else "closing"
            message = (f"`{again_global.function}()` binds the module's `{again_global.name}` to "
                       f"a new {word} without {verb} the one it holds")
            yield ctx.finding(cls, again_global.node, message)
        for again in reopened(ctx):
            word = _WORD.get(again.spec.kind, "connection")
            message = (f"`{again.class_node.name}.{again.method}()` opens a new {word} on "
                       f"`self.{again.attr}` without closing the one it may hold")
            yield ctx.finding(cls, again.node, message)


def _described(kind: Kind) -> tuple[str, str]:
    """``("a connection", "closes")``, ``("an engine", "disposes")``: what is kept, and the verb
    that releases it."""
    word = _WORD.get(kind, "connection")
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}", "disposes" if kind is Kind.ENGINE else "closes"
