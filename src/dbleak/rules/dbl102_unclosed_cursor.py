"""DBL102 unclosed-cursor."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dbleak.knowledge.drivers import DriverTable, Kind
from dbleak.models import Finding
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.rules.dbl101_unclosed_connection import leak_findings, lifecycle_triggers


class UnclosedCursor(Rule):
    """
    ## What it does
    Flags a cursor made by `conn.cursor()` that is left open on some path out of its scope,
    when the connection it came from outlives the scope (stored on `self`, a parameter, a
    module global). Cursors of a connection closed in the same scope are closed with it and
    are not flagged. A cursor of a connection the scope makes and then leaves open (DBL101's
    finding) is flagged too where the connection is dropped, and when it is made again in a
    loop while its connection stays open: closing the connection fixes both.

    ## Why is this bad?
    An open cursor keeps its result set (and, for a server-side or named cursor, a portal and
    a transaction on the server) until it is closed or collected. On a long-lived connection
    that is a slow leak of server state.

    ## Example
    ```python
    import sqlite3

    class Store:
        def __init__(self, path):
            self.conn = sqlite3.connect(path)

        def names(self):
            cur = self.conn.cursor()
            cur.execute("SELECT name FROM t")
            return cur.fetchall()
    ```

    ## Use instead
    ```python
    import sqlite3
    from contextlib import closing

    class Store:
        def __init__(self, path):
            self.conn = sqlite3.connect(path)

        def names(self):
            with closing(self.conn.cursor()) as cur:
                cur.execute("SELECT name FROM t")
                return cur.fetchall()
    ```

    ## Known problems
    A parameter without an annotation is typed by its call sites when every call in the
    package passes one kind of object (`def current(backend)` always given a project
    `Backend`: `backend.execute(q)` is then that class's cursor factory). When nothing says
    which driver a connection is of (a parameter no annotation nor call site types, an
    attribute set from one), a `.cursor()` whose result runs `execute()` or `fetch*()` is
    taken for a PEP 249 cursor; its `with` (where it has one) is taken to close it. Django's
    `connection.cursor()` and `connections[alias].cursor()` are checked too. The wrapper a
    module-level decorator returns (`def with_cursor(f): def wrapper(self, *args): ...`),
    when the decorator is applied only to methods of one class of the module, reads `self`
    as an instance of that class (`self._db.cursor()` is then its connection's cursor). A cursor of a
    local connection of unknown origin is left to that connection. `conn.execute(...)`
    shortcuts (sqlite3, psycopg 3) return cursors nobody is expected to close: CPython frees
    each when its last reference goes; they are not flagged unless `shortcut-cursors =
    "report"` (for code that runs on PyPy, which frees them only when it collects them, a
    statement left unfinished holding its lock meanwhile). Measured both ways: on the fix
    commits of the recall corpus (rounds 1–14, 564 leaks) it finds 5 more (PyrateLimiter's
    PyPy fix ×4, beets) and no false alarm on 311 repaired lines; on the corpus of real
    packages it adds 43 findings to 1,345, each literally unclosed and freed at once by
    CPython: `"ignore"` stays the default.

    ## Fix safety
    Safe: `with closing(conn.cursor()) as cur:` for sqlite3 (its cursor has no `with`),
    `with conn.cursor() as cur:` where the cursor's own `with` closes it and does nothing else.
    Unsafe when the cursor is passed to a callee nothing is known of (it might keep it).

    ## Options
    `[tool.dbleak.lifecycle] unknown-calls = "evidence" | "hand-over" | "borrow"` (see DBL101),
    `shortcut-cursors = "ignore" | "report"` (see above).

    ## References
    - [PEP 249: Cursor.close()](https://peps.python.org/pep-0249/#Cursor.close)
    - [psycopg2: server-side cursors](https://www.psycopg.org/docs/usage.html#server-side-cursors)
    """

    code = "DBL102"
    name = "unclosed-cursor"
    message = "the cursor is not closed on every path"
    fix_title = "Close the cursor with `with`"
    fix_availability = "sometimes"
    needs_project = True

    VALID = (
        ("import sqlite3\nfrom contextlib import closing\n\nclass S:\n    def __init__(self):\n"
        "        self.conn = sqlite3.connect('a')\n    def f(self):\n"
        "        with closing(self.conn.cursor()) as cur:\n            return cur.fetchall()\n"
        "    def close(self):\n        self.conn.close()\n"),
        ("import sqlite3\n\ndef f(p):\n    conn = sqlite3.connect(p)\n    cur = conn.cursor()\n"
        "    cur.execute('select 1')\n    conn.close()\n"),
    )
    INVALID = (
        Example(
            "import sqlite3\n\ndef f(conn: sqlite3.Connection):\n    cur = conn.cursor()\n"
            "    cur.execute('select 1')\n    return cur.fetchall()\n",
            fixed=(
                "import sqlite3\nfrom contextlib import closing\n\ndef f(conn: sqlite3.Connection):\n"
                "    with closing(conn.cursor()) as cur:\n"
                "        cur.execute('select 1')\n        return cur.fetchall()\n"
            ),
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return lifecycle_triggers(drivers)

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        yield from leak_findings(cls, ctx, (Kind.CURSOR,), "cursor")
