"""The server's coordinate conversion and text edits, on their own (no server process)."""

from __future__ import annotations

import pytest
from lsp_session import apply_edit
from lsprotocol import types

from dbleak.api import check_source
from dbleak.lsp import LineTable, parse_options, replacement_edit, units_counter, with_noqa
from dbleak.models import Position

UTF16 = units_counter("utf-16")


def test_only_lsp_line_endings_end_a_line():
    # Form feed, U+001C and U+2028 end a line for str.splitlines() but not for LSP or ast.
    text = "a\x0cb\nc\x1cd\u2028e\r\nf\rg"
    table = LineTable(text, UTF16)
    assert [table.line_text(i) for i in range(len(table.starts))] == [
        "a\x0cb", "c\x1cd\u2028e", "f", "g"]
    assert table.to_lsp(text.index("g")) == types.Position(line=3, character=0)


@pytest.mark.parametrize(("encoding", "column"), [("utf-16", 8), ("utf-8", 11), ("utf-32", 7)])
def test_columns_count_code_units(encoding: str, column: int):
    text = "x = '😀é'\n"
    table = LineTable(text, units_counter(encoding))
    offset = text.index("'", 5)  # the closing quote: after the emoji (non-BMP) and é
    assert table.to_lsp(offset) == types.Position(line=0, character=column)
    assert table.from_lsp(types.Position(line=0, character=column)) == offset


def test_positions_past_the_end_are_clamped():
    text = "ab\r\ncd"
    table = LineTable(text, UTF16)
    assert table.offset(Position(1, 99)) == 2  # end of line 1, before "\r\n"
    assert table.offset(Position(9, 0)) == len(text)
    assert table.to_lsp(3) == types.Position(line=0, character=2)  # never inside "\r\n"
    assert table.from_lsp(types.Position(line=0, character=99)) == 2
    assert table.from_lsp(types.Position(line=5, character=0)) == len(text)


@pytest.mark.parametrize(("old", "new"), [
    ("x\r\ny\r\n", "x\ny\r\n"),
    ("x\r\ny\r\n", "x\r\nz\r\ny\r\n"),
    ("a😀b\n", "a😀😀b\n"),
    ("", "import sqlite3\n"),
    ("same\n", "same\n"),
])
def test_one_edit_turns_the_old_text_into_the_new(old: str, new: str):
    edit = replacement_edit(old, new, LineTable(old, UTF16))
    workspace_edit = types.WorkspaceEdit(changes={"file:///a.py": [edit]})
    assert apply_edit(old, "file:///a.py", workspace_edit) == new


def _finding(text: str):
    findings = check_source(text, "app.py").findings
    assert len(findings) == 1
    return findings[0]


def test_noqa_goes_where_it_suppresses_and_the_code_still_parses():
    text = ("import sqlite3\n\ndef f(p):\n    with sqlite3.connect(\n        p\n    ) as conn:\n"
            "        conn.execute('select 1')\n")
    suppressed = with_noqa(text, _finding(text))
    assert suppressed is not None
    assert "sqlite3.connect(  # noqa: DBL104\n" in suppressed
    assert check_source(suppressed, "app.py").findings == ()


def test_noqa_never_lands_inside_a_string():
    text = ('import sqlite3\n\ndef f(p):\n    with sqlite3.connect("""\n'
            '    """ + p) as conn:\n        conn.execute("select 1")\n')
    suppressed = with_noqa(text, _finding(text))
    assert suppressed is not None
    assert '"""\n    """ + p) as conn:  # noqa: DBL104\n' in suppressed
    assert check_source(suppressed, "app.py").findings == ()


def test_initialization_options_are_checked():
    options, problems = parse_options({"select": ["dbl1"], "ignore": ["XYZ1"], "unsafeFixes": True,
                                       "debounce-ms": -1, "lint-on-change": "yes"})
    assert options.select == ("DBL1",)
    assert options.ignore == ()
    assert options.unsafe_fixes is True
    assert options.debounce_ms == 250 and options.lint_on_change is True
    assert len(problems) == 3
