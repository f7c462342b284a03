"""DBL108 module-level-connection (off by default)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dbleak.analysis.flow import module_flow
from dbleak.knowledge.drivers import DriverTable, Kind
from dbleak.models import Finding
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.rules.dbl101_unclosed_connection import describe, lifecycle_triggers


class ModuleLevelConnection(Rule):
    """
    ## What it does
    Flags a connection or session created at import time and kept for the module's functions:
    bound to a module-level name by a statement that runs when the module is imported (code
    under `if __name__ == "__main__":` is not import time and is not flagged), and read by a
    function or class of the module. One that only the import-time statements use is a
    script's, and DBL101 flags it when it is never closed.

    ## Why is this bad?
    Importing the module opens a connection — in tests, in tools that only import to inspect,
    in every worker process after a fork (where a shared connection is unsafe). Nothing closes
    it, and it cannot be reopened after the server drops it.

    ## Example
    ```python
    import sqlite3

    conn = sqlite3.connect("app.db")

    def names():
        return conn.execute("SELECT name FROM t").fetchall()
    ```

    ## Use instead
    ```python
    import sqlite3
    from contextlib import closing

    def names():
        with closing(sqlite3.connect("app.db")) as conn:
            return conn.execute("SELECT name FROM t").fetchall()
    ```

    ## Known problems
    Off by default: some deployments want one connection per process on purpose (serverless
    handlers that reuse it across invocations). Enable it with `extend-select = ["DBL108"]`.

    ## Fix safety
    No fix: moving the connection changes the program's structure.

    ## Options
    None.

    ## References
    - [AWS Lambda: reuse connections across invocations](https://docs.aws.amazon.com/lambda/latest/dg/best-practices.html)
    """

    code = "DBL108"
    name = "module-level-connection"
    message = "a connection is created at import time"
    default_enabled = False
    needs_project = True

    VALID = (
        "import sqlite3\n\ndef f(p):\n    conn = sqlite3.connect(p)\n    conn.close()\n",
        "import sqlite3\n\nif __name__ == '__main__':\n    conn = sqlite3.connect('a.db')\n",
    )
    INVALID = (Example("import sqlite3\n\nconn = sqlite3.connect('a.db')\n\n"
                       "def names():\n    return conn.execute('SELECT name FROM t').fetchall()\n"),)

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return lifecycle_triggers(drivers)

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        for flow in module_flow(ctx).module_level:
            resource = flow.resource
            if resource.kind not in (Kind.CONNECTION, Kind.SESSION):
                continue
            message = f"{describe(flow)} is created at import time and never closed"
            yield ctx.finding(cls, resource.node, message, stmt=resource.stmt)
