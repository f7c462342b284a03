"""Fuzzing dbleak: grammar-generated programs (hypothesmith) and database-shaped ones.

    python benchmarks/fuzz.py [--examples 2000] [--seed N]

For every program: checking raises nothing and meets no internal error; every fix (safe and
unsafe) gives a text that compiles; fixing that text again changes nothing. The test suite runs
the same properties on a bounded number of examples (tests/test_fuzz.py); this script is the
longer run, for releases.
"""

from __future__ import annotations

import argparse
import ast
import time
import warnings

from hypothesis import strategies as st

DRIVERS = [
    ("import sqlite3", "sqlite3.connect(path)"),
    ("import psycopg2", "psycopg2.connect(dsn)"),
    ("import pymysql", "pymysql.connect(host=host)"),
    ("from sqlite3 import connect", "connect(path)"),
    ("import sqlite3 as db", "db.connect(path)"),
]
QUERIES = ["'SELECT id FROM t'", "'SELECT id FROM t WHERE id = ?'", "'SELECT id FROM t LIMIT 5'",
           "query", "f'SELECT {column} FROM t'"]


@st.composite
def _statements(draw: st.DrawFn, depth: int, names: tuple[str, ...]) -> list[str]:
    """Lines (indented with four spaces per level) of a block using ``names``."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        name = draw(st.sampled_from(names))
        query = draw(st.sampled_from(QUERIES))
        kind = draw(st.integers(0, 15 if depth < 3 else 9))
        if kind == 0:
            lines.append(f"cur = {name}.cursor()")
        elif kind == 1:
            lines.append(f"{name}.execute({query})")
        elif kind == 2:
            lines.append(f"rows = {name}.execute({query}).fetchall()")
        elif kind == 3:
            lines.append(f"{name}.close()")
        elif kind == 4:
            lines.append(f"return {draw(st.sampled_from(['rows', name, 'None', 'rows[0]']))}")
        elif kind == 5:
            lines.append(f"data = list({name}.execute({query}))")
        elif kind == 6:
            lines.append(f"{name}.commit()")
        elif kind == 7:
            lines.append(f"yield {name}")
        elif kind == 8:
            lines.append(f"self.{name} = {name}")
        elif kind == 9:
            lines.append(f"print(len({name}.execute({query}).fetchall()))")
        else:
            inner = draw(_statements(depth + 1, names))
            header = draw(st.sampled_from([
                f"with {name}:", "try:", "if flag:", "for row in rows:",
                f"with closing({name}.cursor()) as cur:", "while flag:"]))
            lines.append(header)
            lines.extend("    " + line for line in inner)
            if header == "try:":
                tail = draw(st.sampled_from(["finally:", "except Exception:"]))
                lines.append(tail)
                lines.append(f"    {name}.close()" if tail == "finally:" else "    raise")
    return lines


@st.composite
def database_programs(draw: st.DrawFn) -> str:
    """A module shaped like database code: drivers, connections, cursors, fetches, releases."""
    imports, call = draw(st.sampled_from(DRIVERS))
    parts = [imports, "from contextlib import closing" if draw(st.booleans()) else "", ""]
    if draw(st.booleans()):
        parts.append(f"CONN = {call.replace('path', repr('app.db'))}")
    for index in range(draw(st.integers(1, 3))):
        as_method = draw(st.booleans())
        signature = "self, path, dsn, host, query, column, flag" if as_method else \
            "path, dsn, host, query, column, flag"
        opener = draw(st.sampled_from([
            f"conn = {call}", f"with {call} as conn:", f"with closing({call}) as conn:",
            f"conn = {call}\n    cur = conn.cursor()"]))
        body = draw(_statements(1 if opener.startswith("with") else 0, ("conn", "cur", "conn")))
        lines = [f"def f{index}({signature}):"]
        opener_lines = opener.split("\n    ")
        lines.extend("    " + line for line in opener_lines)
        indent = "    " if opener.startswith("with") else ""
        lines.extend("    " + indent + line for line in body)
        block = "\n".join(lines)
        if as_method:
            block = f"class Repo{index}:\n" + "\n".join(
                ("    " + line if line else line) for line in block.splitlines())
        parts.extend([block, "", ""])
    return "\n".join(parts) + "\n"


def grammar_programs() -> st.SearchStrategy[str]:
    """Any Python module, from the grammar (hypothesmith)."""
    import hypothesmith

    return hypothesmith.from_grammar()


def check_program(text: str) -> None:
    """The properties: no exception, no internal error, fixes compile, a second fix is a no-op."""
    from dbleak.api import check_source, fix_source

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            compile(text, "<fuzz>", "exec")
    except (SyntaxError, ValueError):
        compiles = False
    else:
        compiles = True
    result = check_source(text, "fuzz.py", build_fixes=True)
    assert not result.internal_errors, result.internal_errors
    if not compiles:
        return
    first = fix_source(text, "fuzz.py", unsafe=True)
    assert not first.result.internal_errors, first.result.internal_errors
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        compile(first.text, "<fuzz-fixed>", "exec")
    ast.parse(first.text)
    second = fix_source(first.text, "fuzz.py", unsafe=True)
    assert second.text == first.text, "a second --fix changed the text again"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="programs of each kind")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    from hypothesis import HealthCheck, given, seed, settings

    warnings.simplefilter("ignore", SyntaxWarning)  # generated code: `1()` and the like

    for name, strategy in (("database-shaped", database_programs()),
                           ("grammar", grammar_programs())):
        count = 0

        @settings(max_examples=args.examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def run(text: str) -> None:
            nonlocal count
            count += 1
            check_program(text)

        if args.seed is not None:
            run = seed(args.seed)(run)
        start = time.perf_counter()
        run()
        print(f"{name}: {count} programs, no failure, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
