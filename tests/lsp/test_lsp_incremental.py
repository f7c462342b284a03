"""`dbleak server` re-analyses only what an edit touched, and publishes what a full check gives.

A module of many functions is opened, then edited again and again through the real server
(typing with the debounce, and saves): one function's text changed, lines added above other
functions (so their findings move), a function removed, a factory added that another function
then uses, an import changed. After every edit the published diagnostics must equal those of a
full `check_source` of the same text, and a quick fix of a finding that moved must give the
same text as the quick fix of a freshly opened copy of the document.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lsp_session import (
    RecordingClient,
    apply_edit,
    change_document,
    code_actions,
    open_document,
    published,
    start,
)
from lsprotocol import types

from dbleak.api import check_source

pytestmark = pytest.mark.asyncio

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _module(lines: int) -> str:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from lsp_latency import generate
    finally:
        sys.path.remove(str(BENCHMARKS))
    return generate(lines)


def _expected(text: str, path: Path) -> list[tuple[str, int, int, int, int, str]]:
    return [(f.code, f.start.line - 1, f.start.column, f.end.line - 1, f.end.column, f.message)
            for f in check_source(text, str(path)).findings]


def _got(params: types.PublishDiagnosticsParams) -> list[tuple[str, int, int, int, int, str]]:
    return [(str(d.code), d.range.start.line, d.range.start.character, d.range.end.line,
             d.range.end.character, d.message) for d in params.diagnostics]


def _edits(text: str) -> list[str]:
    """A series of texts, each an edit of the one before."""
    texts = []
    text = text.replace('log.debug("no orders for %s", customer)',
                        'log.debug("none for %s", customer)', 1)
    texts.append(text)
    text = text.replace("def count_customers_4() -> int:\n",
                        "def count_customers_4() -> int:\n    # moved\n    # down\n", 1)
    texts.append(text)
    start = text.index("def record_event_2(")
    end = text.index("\ndef ", start + 1)
    texts.append(text := text[:start] + text[end + 1:])
    texts.append(text := text + "\n\ndef opener(path):\n    return sqlite3.connect(path)\n")
    texts.append(text := text.replace("    with closing(sqlite3.connect(path)) as conn:\n"
                                      "        cursor = conn.execute(",
                                      "    with closing(opener(path)) as conn:\n"
                                      "        cursor = conn.execute(", 1))
    texts.append(text := text.replace("    conn = psycopg2.connect(DSN)\n",
                                      "    conn = opener(DSN)\n", 1))
    texts.append(text := text.replace("import psycopg2\n", "import psycopg2  # the driver\n"))
    texts.append(text.replace("from contextlib import closing\n", ""))
    return texts


async def test_every_edit_publishes_what_a_full_check_gives(client: RecordingClient,
                                                             tmp_path: Path):
    await start(client, tmp_path)
    path = tmp_path / "orders.py"
    text = _module(400)
    uri = open_document(client, path, text)
    assert _got(await published(client, uri, version=1)) == _expected(text, path)
    for version, new in enumerate(_edits(text), start=2):
        change_document(client, uri, new, version=version)
        if version % 2:
            client.text_document_did_save(types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=uri)))
        assert _got(await published(client, uri, version=version)) == _expected(new, path), version


async def test_a_quick_fix_of_a_moved_finding_is_that_of_a_fresh_check(client: RecordingClient,
                                                                         tmp_path: Path):
    await start(client, tmp_path, {"lint-on-change": True})
    path = tmp_path / "orders.py"
    text = _module(300)
    uri = open_document(client, path, text)
    await published(client, uri, version=1)
    # Lines added at the top of the first function: every finding below moves down by three.
    moved = text.replace("    with closing(sqlite3.connect(path)) as conn:\n",
                         "    # one\n    # two\n    # three\n"
                         "    with closing(sqlite3.connect(path)) as conn:\n", 1)
    change_document(client, uri, moved, version=2)
    diagnostics = list((await published(client, uri, version=2)).diagnostics)
    target = [d for d in diagnostics if d.code == "DBL104"][-1]
    actions = await code_actions(client, uri, [target], only=["quickfix"])
    fix = next(a for a in actions if a.is_preferred)
    assert fix.edit is not None
    fixed = apply_edit(moved, uri, fix.edit)

    fresh_path = tmp_path / "fresh" / "orders.py"
    fresh_path.parent.mkdir()
    fresh_uri = open_document(client, fresh_path, moved)
    fresh_diagnostics = list((await published(client, fresh_uri, version=1)).diagnostics)
    fresh_target = [d for d in fresh_diagnostics if d.code == "DBL104"][-1]
    assert fresh_target.range == target.range
    fresh_actions = await code_actions(client, fresh_uri, [fresh_target], only=["quickfix"])
    fresh_fix = next(a for a in fresh_actions if a.is_preferred)
    assert fresh_fix.edit is not None
    assert fixed == apply_edit(moved, fresh_uri, fresh_fix.edit)
    assert fixed != moved
