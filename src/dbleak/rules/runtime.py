"""DBL901 runtime-leak and DBL902 large-read: findings of the runtime check (`pytest --dbleak`).

They are registered so that `dbleak rule DBL901` explains them and reports show their URL, but
they are no rules of `dbleak check`: the registry keeps them out of selection and the engine
never runs them (see :func:`dbleak.registry.runtime_rules`).
"""

from __future__ import annotations

from collections.abc import Iterable

from dbleak.models import Finding
from dbleak.rules.base import CheckContext, Rule


class _RuntimeOnly(Rule):
    @classmethod
    def check(cls, ctx: CheckContext) -> Iterable[Finding]:
        return ()  # made by the pytest plugin, never by `dbleak check`


class RuntimeLeak(_RuntimeOnly):
    """
    ## What it does
    Reported by `pytest --dbleak --dbleak-report=PATH`, never by `dbleak check`: a database
    connection, cursor or session made on this line was left open by a test. Either it was
    still referenced and still open at the end of the test (after a garbage collection), or the
    garbage collector freed it without it ever being closed. The message names the tests.

    ## Why is this bad?
    The test suite ran the real code against a real database and the object stayed open: the
    leak is observed, not inferred. A connection left to the garbage collector is closed only
    when CPython happens to free it (never at a predictable time on PyPy, nor while a reference
    cycle or a cache keeps it), and a server counts it against its connection limit until then.

    ## Example
    ```python
    def load(path):
        conn = sqlite3.connect(path)
        return conn.execute("SELECT * FROM t").fetchall()
    ```

    ## Use instead
    ```python
    def load(path):
        with closing(sqlite3.connect(path)) as conn:
            return conn.execute("SELECT * FROM t").fetchall()
    ```

    ## Known problems
    Only what the tests run is seen. Objects a driver makes in C without passing through its
    Python API are not seen; see docs/runtime.md for what each driver's hook sees. A connection
    given back to its pool is not a leak; the pool's own connections are not reported.

    ## Fix safety
    No fix: the finding comes from a test run.

    ## Options
    `--dbleak-strict` fails the test that leaks. `dbleak check --runtime-report PATH` marks the
    static findings a runtime leak confirms and lists the leaks no static finding covers.

    ## References
    - docs/runtime.md
    """

    code = "DBL901"
    name = "runtime-leak"
    message = "database object made here was left open by a test"


class LargeRead(_RuntimeOnly):
    """
    ## What it does
    Reported by `pytest --dbleak --dbleak-report=PATH`, never by `dbleak check`: a
    `fetchall()`, `.all()` or pandas `read_sql()` on this line returned at least
    `--dbleak-large-read` rows (1000 by default) while the tests ran.

    ## Why is this bad?
    A static linter cannot know how big a table is; a test that reads thousands of rows in one
    call shows a read that grows with the data. Every row is in memory at once.

    ## Example
    ```python
    rows = conn.execute("SELECT * FROM events").fetchall()
    ```

    ## Use instead
    ```python
    for row in conn.execute("SELECT * FROM events"):
        handle(row)
    ```

    ## Known problems
    Test data is rarely production data: a small read in the tests can be large in production
    and the other way round. Only reads through the wrapped methods are counted (see
    docs/runtime.md).

    ## Fix safety
    No fix: the finding comes from a test run.

    ## Options
    `--dbleak-large-read=ROWS` sets the threshold.

    ## References
    - docs/runtime.md
    """

    code = "DBL902"
    name = "large-read"
    message = "a read on this line returned many rows at run time"


RUNTIME_RULES: tuple[type[Rule], ...] = (RuntimeLeak, LargeRead)
