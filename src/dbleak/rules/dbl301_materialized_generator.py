"""DBL301 materialized-generator (and the walk-once check DBL302 shares)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.materialize import (
    ListUseKind,
    MaterializationSite,
    SourceKind,
    describe_use,
    materialization_sites,
    reads_rows,
)
from dbleak.analysis.materialize_fix import Rewriter, rewriter_for, walk_rewrite
from dbleak.analysis.names import method_call_parts
from dbleak.knowledge.drivers import DriverTable
from dbleak.models import Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule

WALK_USES = (ListUseKind.LOOP, ListUseKind.COMPREHENSION, ListUseKind.CONSUMER)
_FORM_WORDS = {
    "list": "`list()`", "tuple": "`tuple()`", "comprehension": "a list comprehension",
    "unpack": "`[*...]`",
}


class MaterializedGenerator(Rule):
    """
    ## What it does
    Flags `list(g)`, `tuple(g)`, `[x for x in g]` and `[*g]` over a generator — a call to a
    generator function of this module or of the checked project, a generator expression, or a
    lazy iterator such as `map()` — when the list is then only walked once: by one loop, one
    comprehension, or one call that only iterates it (`sum`, `min`, `max`, `any`, `all`, `set`,
    `dict`, `"".join`, `writerows`, `executemany`, `DataFrame.from_records`, …). Only
    generators of database rows: one whose body runs a query, walks a cursor or a result, uses
    a Django manager or reads with pandas, or calls a generator that does; a generator
    expression over any of these.

    ## Why is this bad?
    A generator that streams rows (`def fetch_rows(): for row in cursor: yield row`) keeps one
    row in memory at a time. Wrapping it in `list()` pulls every row into memory first, only to
    walk them once: the whole table in memory, for nothing.

    ## Example
    ```python
    def fetch_rows(cur):
        for row in cur:
            yield row

    for row in list(fetch_rows(cur)):
        print(row)
    ```

    ## Use instead
    ```python
    for row in fetch_rows(cur):
        print(row)
    ```

    ## Known problems
    Not flagged, because materializing is then right: the list is used more than once (indexed,
    sliced, measured and walked, walked twice, sorted, mutated), returned, stored, yielded or
    passed to code that may keep it; it is used after the `with` block (or the `close()`) that
    ends the resource it reads from; the loop body touches the source (runs another query,
    commits, closes, mutates the collection the generator reads from); the source is not lazy
    (a list, a tuple, a dict view, `range`). A generator defined in a module outside the
    checked paths is not known. A generator that reads no database (the tokens of a string,
    a tuple of classes) is left alone: the family is about memory held from query results; a
    generator whose rows come from a plain helper function (`for row in get_cursor(): yield
    row`) is not known to read one.

    ## Fix safety
    Walking the generator directly is safe when nothing runs between making the list and the
    loop, the loop cannot stop early (`break`, `return`, `yield`, an exception), and the body
    calls only code that cannot reach the source. It is unsafe otherwise: the generator's own
    work then interleaves with the loop body, and a loop that stops early leaves it unfinished.
    Dropping the brackets of `any([...])`/`all([...])` is unsafe when the rows have side
    effects: short-circuiting skips them. `sorted()` is never a consumer here: it builds its
    own list anyway.
    A name bound to the list on a line that ends in a tool's comment (`# type: ignore`,
    `# noqa`, `# pragma: no cover`) gets no fix: removing the binding would leave the comment
    on a line of its own, where it applies to nothing.

    ## Options
    None.

    ## References
    - [Generators (Python HOWTO)](https://docs.python.org/3/howto/functional.html#generators)
    - [ruff PERF101 unnecessary-list-cast](https://docs.astral.sh/ruff/rules/unnecessary-list-cast/)
    """

    code = "DBL301"
    name = "materialized-generator"
    message = "{form} of {what} is {use}: walk the generator directly"
    fix_title = "Walk the generator directly instead of building a list"
    fix_availability = "sometimes"
    needs_project = True

    VALID = (
        "def tokens(text):\n    yield from text.split()\n\nfor t in list(tokens('a b')):\n    print(t)\n",
        "def gen():\n    yield 1\n\nrows = list(gen())\nfor r in rows:\n    print(r)\nprint(len(rows))\n",
        "def gen():\n    yield 1\n\ndef f():\n    return list(gen())\n",
        "for x in list(range(3)):\n    print(x)\n",
        "def gen():\n    yield 1\n\nprint(sorted(list(gen())))\n",
    )
    INVALID = (
        Example(
            "def gen(cur):\n    yield from cur.execute('SELECT 1')\n\nfor r in list(gen(c)):\n    print(r)\n",
            fixed="def gen(cur):\n    yield from cur.execute('SELECT 1')\n\nfor r in gen(c):\n    print(r)\n",
        ),
        Example(
            "def gen(cur):\n    yield from cur.execute('SELECT 1')\n\nrows = list(gen(c))\nfor r in rows:\n    print(r)\n",
            fixed="def gen(cur):\n    yield from cur.execute('SELECT 1')\n\nfor r in gen(c):\n    print(r)\n",
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return ("list(", "tuple(", "[", "(")

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        yield from walk_findings(cls, ctx, SourceKind.GENERATOR)


def walk_findings(rule: type[Rule], ctx: CheckContext, kind: SourceKind) -> Iterator[Finding]:
    """Findings for sites over a ``kind`` source whose list is only walked once."""
    rewriter = rewriter_for(ctx)
    for site in materialization_sites(ctx):
        if site.source.kind is not kind or site.use.kind not in WALK_USES:
            continue
        if not reads_rows(site):
            continue  # a generator of no database rows (the tokens of a string): not this family's
        message = rule.message.format(form=_FORM_WORDS.get(site.form, "`list()`"),
                                      what=site.source.what, use=describe_use(site.use))
        yield ctx.finding(rule, site.node, message, plan=walk_plan(rule, rewriter, site, True),
                          stmt=site.stmt)


def site_words(rewriter: Rewriter, site: MaterializationSite) -> str:
    """How messages name a site: "`list()` of the generator `g()`", "`cur.fetchall()`"."""
    if site.source.kind is SourceKind.FETCHED:
        call = site.node.value if isinstance(site.node, ast.Await) else site.node
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
        receiver = rewriter.segment(call.func.value)
        if len(receiver) > 30 or "\n" in receiver:
            # `Notification.query.filter_by(...)`: the chain's names, its last call's arguments left out
            parts = method_call_parts(call.func.value)
            receiver = f"{parts[0]}.{parts[1]}(...)" if parts is not None and parts[0] is not None \
                and len(parts[0]) <= 40 else "..."
        return f"`{receiver}.{call.func.attr}()`"
    return f"{_FORM_WORDS.get(site.form, '`list()`')} of {site.source.what}"


def walk_plan(rule: type[Rule], rewriter: Rewriter, site: MaterializationSite,
              safe: bool) -> FixPlan | None:
    rewrite = walk_rewrite(rewriter, site, safe)
    if rewrite is None:
        return None
    return FixPlan(rule.fix_title or "", rewrite.applicability, rewrite.operations)
