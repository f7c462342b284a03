"""The materialization analysis on its own: the generator index and the sites it reports."""

from __future__ import annotations

import ast
from pathlib import Path

from dbleak.analysis.generator_summary import GENERATOR_KEY, summarize_generators
from dbleak.analysis.materialize import ListUseKind, SourceKind, materialization_sites
from dbleak.analysis.module import collect_facts
from dbleak.analysis.project import ProjectIndex
from dbleak.api import check_source
from dbleak.knowledge.drivers import builtin_table
from dbleak.rules.base import CheckContext
from dbleak.settings import Settings

GENERATORS = '''
from contextlib import contextmanager

def rows(cur):
    for row in cur:
        yield row

async def arows(cur):
    for row in cur:
        yield row

def delegates():
    yield from rows(None)

@contextmanager
def transaction(conn):
    yield conn

def plain():
    return [1]

def with_nested_generator():
    def inner():
        yield 1
    return inner

class Repo:
    def stream(self):
        yield 1
'''


def _facts(text: str, module: str):
    return collect_facts(ast.parse(text), builtin_table(), module)


def test_summarizer_records_sync_and_async_generators_only() -> None:
    summaries = summarize_generators(_facts(GENERATORS, "pkg.gens"))
    assert {name: facts[GENERATOR_KEY] for name, facts in summaries.items()} == {
        "pkg.gens.rows": "sync", "pkg.gens.arows": "async", "pkg.gens.delegates": "sync",
        "pkg.gens.Repo.stream": "sync",
    }


def test_generator_of_another_module_is_known_through_the_index() -> None:
    index = ProjectIndex()
    index.add_module(_facts(GENERATORS, "gens"))
    user = "from gens import rows, plain\nfor r in list(rows(c)):\n    print(r)\nfor r in list(plain()):\n    print(r)\n"
    settings = Settings(select=("DBL301",))
    with_index = check_source(user, "main.py", settings, project=index)
    assert [(f.code, f.start.line) for f in with_index.findings] == [("DBL301", 2)]
    assert check_source(user, "main.py", settings).findings == ()


def _sites(text: str):
    ctx = CheckContext("m.py", text, ast.parse(text), Settings())
    return materialization_sites(ctx)


def test_sites_say_what_the_source_is_and_how_the_list_is_used() -> None:
    text = (
        "import sqlite3\n"
        "conn = sqlite3.connect(':memory:')\n"
        "def g():\n    yield 1\n"
        "for x in list(g()):\n    print(x)\n"
        "n = len(list(conn.execute('select 1')))\n"
        "first = conn.execute('select 1').fetchall()[0]\n"
        "print(set(x for x in list(g())))\n"
    )
    found = {(s.node.lineno, s.source.kind, s.use.kind) for s in _sites(text)}
    assert found == {
        (5, SourceKind.GENERATOR, ListUseKind.LOOP),
        (7, SourceKind.CURSOR, ListUseKind.LENGTH),
        (8, SourceKind.FETCHED, ListUseKind.FIRST),
        (9, SourceKind.GENERATOR, ListUseKind.COMPREHENSION),
    }


def test_no_site_when_the_list_is_needed() -> None:
    text = (
        "def g():\n    yield 1\n"
        "def f(cur):\n"
        "    rows = list(g())\n    cur.close()\n    for r in rows:\n        print(r)\n"
        "    kept = list(g())\n    return kept\n"
    )
    assert _sites(text) == []


def test_every_rule_folder_has_flagged_cases() -> None:
    root = Path(__file__).parent / "fixtures"
    for folder in sorted(root.glob("DBL30*")):
        flagged = sum(p.read_text().count("# error: DBL") for p in folder.rglob("*.py")
                      if not p.name.endswith(("fixed.py",)))
        assert flagged > 0, folder


def test_streaming_apis_are_recognized_by_their_shape() -> None:
    text = (
        "import pandas as pd\n"
        "for u in list(User.objects.filter(active=True).iterator()):\n    print(u)\n"
        "for u in list(tree.iterator()):\n    print(u)\n"
        "for c in list(pd.read_sql(q, con, chunksize=10)):\n    print(c)\n"
        "for c in list(pd.read_sql(q, con)):\n    print(c)\n"
        "for r in list(session.query(User).yield_per(100)):\n    print(r)\n"
    )
    found = {(s.node.lineno, s.source.kind) for s in _sites(text)}
    assert found == {(2, SourceKind.CURSOR), (6, SourceKind.CURSOR), (10, SourceKind.CURSOR)}
