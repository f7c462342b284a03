"""DBL302 materialized-cursor."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dbleak.analysis.materialize import SourceKind
from dbleak.knowledge.drivers import DriverTable
from dbleak.models import Finding
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.rules.dbl301_materialized_generator import walk_findings


class MaterializedCursor(Rule):
    """
    ## What it does
    Flags `list(x)`, `tuple(x)`, `[r for r in x]` and `[*x]` over a DB-API cursor, a SQLAlchemy
    `Result`/`ScalarResult`, a `yield_per()` query, a Django `.iterator()` (of a queryset chain,
    or of a name bound once to one) or a
    `read_sql(..., chunksize=...)` iterator, when the list is then only walked once: by one
    loop, one comprehension, or one call that only iterates it (`sum`, `set`, `dict`,
    `"".join`, `writerows`, `executemany`, `DataFrame.from_records`, …).

    ## Why is this bad?
    A cursor hands out rows one at a time (sqlite3 steps the statement, a server-side cursor
    fetches in batches, `yield_per` and `.iterator()` exist only to stream). `list(cursor)`
    pulls the whole result into Python objects at once, only to walk it once — and undoes the
    streaming the code asked for.

    ## Example
    ```python
    cur = conn.execute("SELECT id, name FROM users")
    for row in list(cur):
        print(row)
    ```

    ## Use instead
    ```python
    cur = conn.execute("SELECT id, name FROM users")
    for row in cur:
        print(row)
    ```

    ## Known problems
    Not flagged where the list is needed: used more than once, returned (`with closing(connect())
    as c: return list(c.execute(q))` — the cursor would be read after close), stored, yielded,
    passed to unknown code, used after the block or the `close()` that ends the cursor or its
    connection, or when the loop body uses the cursor or its connection again (another
    `execute`, a `commit` that ends a server-side cursor, a `close`).
    Cursors are recognized through the driver table (also of a parameter annotated with a
    driver's type, or typed by its call sites), `yield_per`, `.iterator()`, `scalars()` and
    `read_sql(chunksize=...)` by name; an `execute()` result counts when the receiver or the
    SQL text says it is a query.

    ## Fix safety
    Iterating the cursor directly is safe when nothing runs between making the list and the
    loop, the loop cannot stop early, and the body calls only code that cannot reach the
    database. Unsafe otherwise: the cursor then stays open while the body runs, which matters
    when the body writes through another connection (SQLite locks) or stops early.

    ## Options
    None.

    ## References
    - [PEP 249: Cursor.next / iteration](https://peps.python.org/pep-0249/#iter)
    - [SQLAlchemy: fetching large result sets with yield_per](https://docs.sqlalchemy.org/en/20/orm/queryguide/api.html#fetching-large-result-sets-with-yield-per)
    - [Django: QuerySet.iterator()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#iterator)
    """

    code = "DBL302"
    name = "materialized-cursor"
    message = "{form} of {what} is {use}: iterate it directly"
    fix_title = "Iterate the cursor or result directly instead of building a list"
    fix_availability = "sometimes"

    VALID = (
        ("import sqlite3\nfrom contextlib import closing\n\ndef load(q):\n"
        "    with closing(sqlite3.connect('a.db')) as c:\n        return list(c.execute(q))\n"),
        ("import sqlite3\n\nconn = sqlite3.connect(':memory:')\ncur = conn.execute('select 1')\n"
        "rows = list(cur)\nprint(len(rows), rows)\n"),
        ("import sqlite3\n\nconn = sqlite3.connect(':memory:')\ncur = conn.cursor()\n"
        "cur.execute('select 1')\nfor row in list(cur):\n    cur.execute('select 2')\n"),
    )
    INVALID = (
        Example(
            "import sqlite3\n\nconn = sqlite3.connect(':memory:')\n"
            "for row in list(conn.execute('select 1')):\n    print(row)\n",
            fixed="import sqlite3\n\nconn = sqlite3.connect(':memory:')\n"
            "for row in conn.execute('select 1'):\n    print(row)\n",
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return ("list(", "tuple(", "[")

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        yield from walk_findings(cls, ctx, SourceKind.CURSOR)
