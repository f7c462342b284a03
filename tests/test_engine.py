"""The engine: decoding, syntax errors, suppressions, columns, internal errors."""

from __future__ import annotations

import sys

import pytest

from dbleak.api import check_source
from dbleak.engine import check_bytes, module_name_for
from dbleak.noqa import may_suppress, parse_suppressions
from dbleak.registry import all_rules
from dbleak.rules.base import Rule
from dbleak.settings import Settings
from dbleak.source import DecodeError, decode_source

SETTINGS = Settings(select=("DBL104",))
LEAK = "with sqlite3.connect(p) as conn:\n    conn.execute('x')\n"


def codes(source: str) -> list[tuple[int, str]]:
    return [(f.start.line, f.code) for f in check_source(source, "m.py", SETTINGS).findings]


def test_decode_cookie_bom_and_crlf() -> None:
    latin = "# -*- coding: latin-1 -*-\nname = 'café'\r\n".encode("latin-1")
    decoded = decode_source(latin)
    assert decoded.encoding == "iso-8859-1"
    assert "café" in decoded.text
    bom = decode_source(b"\xef\xbb\xbfx = 1\r\ny = 2\r\n")
    assert bom.bom and bom.text == "x = 1\r\ny = 2\r\n" and bom.newline == "\r\n"
    with pytest.raises(DecodeError):
        decode_source(b"# coding: no-such-codec\nx = 1\n")


def test_undecodable_file_is_a_finding_at_the_bad_byte() -> None:
    result, text = check_bytes(b"x = 1\ny = '\xff'\n", "bad.py", SETTINGS)
    assert text is None
    (finding,) = result.findings
    assert finding.code == "DBL001" and finding.name == "invalid-syntax"
    assert (finding.start.line, finding.start.column) == (2, 5)
    assert "0xff" in finding.message


def test_syntax_error_location_matches_python() -> None:
    source = "import sqlite3\n\ndef f(:\n    pass\n"
    (finding,) = check_source(source, "bad.py", SETTINGS).findings
    with pytest.raises(SyntaxError) as raised:
        compile(source, "bad.py", "exec")
    assert finding.code == "DBL001"
    assert finding.start.line == raised.value.lineno
    assert finding.start.column == raised.value.offset - 1
    assert finding.message.startswith("SyntaxError:")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs a Python without PEP 695")
def test_newer_syntax_says_which_python() -> None:
    (finding,) = check_source("type Rows = list[tuple[int, str]]\n", "new.py", SETTINGS).findings
    assert finding.code == "DBL001"
    assert "3.12" in finding.message and "newer than the Python" in finding.message
    assert "run dbleak under Python 3.12 or later" in finding.message


def test_python2_except_is_named_as_python2() -> None:
    source = "try:\n    pass\nexcept ldap.LDAPError, e:\n    pass\n"
    (finding,) = check_source(source, "old.py", SETTINGS).findings
    assert finding.code == "DBL001" and finding.start.line == 3
    assert "Python 2 syntax" in finding.message and "except X as e:" in finding.message
    assert "3.14" not in finding.message


def test_noqa_forms() -> None:
    base = "import sqlite3\n" + LEAK
    assert codes(base) == [(2, "DBL104")]
    assert codes(base.replace("as conn:", "as conn:  # noqa")) == []
    assert codes(base.replace("as conn:", "as conn:  # noqa: DBL104")) == []
    assert codes(base.replace("as conn:", "as conn:  # NOQA:DBL101,DBL104")) == []
    assert codes(base.replace("as conn:", "as conn:  # noqa: DBL101")) == [(2, "DBL104")]
    assert codes("# dbleak: noqa\n" + base) == []
    assert codes("# dbleak: noqa: DBL104\n" + base) == []
    assert codes("# dbleak: noqa: DBL101\n" + base) == [(3, "DBL104")]
    # A `# noqa` inside a string is not a comment.
    assert codes(base.replace("as conn:", "as conn:\n    s = '# noqa'")) == [(2, "DBL104")]


def test_noqa_on_first_or_last_line_of_a_multiline_statement() -> None:
    source = "import sqlite3\nwith sqlite3.connect(\n    p,\n) as conn:{}\n    pass\n"
    assert codes(source.format("")) == [(2, "DBL104")]
    assert codes(source.format("  # noqa: DBL104")) == []
    first = source.format("").replace("connect(\n", "connect(  # noqa: DBL104\n")
    assert codes(first) == []
    middle = source.format("").replace("    p,\n", "    p,  # noqa: DBL104\n")
    assert codes(middle) == [(2, "DBL104")]


def test_noqa_found_whatever_the_line_ends_and_only_on_the_findings_lines() -> None:
    # Only the finding's lines and file-level directives are looked at before tokenizing.
    base = "import sqlite3\n" + LEAK
    assert codes(base + "x = 1  # noqa\n") == [(2, "DBL104")]
    crlf = base.replace("as conn:", "as conn:  # noqa: DBL104").replace("\n", "\r\n")
    assert codes(crlf) == []
    assert codes(base.replace("as conn:", "as conn:  # noqa: DBL104").replace("\n", "\r")) == []
    # `noqa` on the line, in a string: not a comment
    assert codes("import sqlite3\nwith sqlite3.connect(p) as conn: conn.execute('# noqa')\n") \
        == [(2, "DBL104")]
    assert may_suppress(base + "x = 1  # noqa\n", [2]) is False
    assert may_suppress("# dbleak: noqa: DBL104\n" + base, [3]) is True


def test_parse_suppressions_ignores_flake8_file_noqa() -> None:
    assert parse_suppressions("# flake8: noqa\nx = 1\n").file_codes == frozenset()


def test_columns_are_characters_not_bytes() -> None:
    source = "import sqlite3\nif 'ééé':\n    z = 1; (lambda: 0)\nwith sqlite3.connect('é') as c: c.execute('ü')\n"
    (finding,) = check_source(source, "m.py", SETTINGS).findings
    assert finding.start.column == 5
    line = "with open('é☕') as f, sqlite3.connect('é') as c:\n    pass\n"
    (finding,) = check_source("import sqlite3\n" + line, "m.py", SETTINGS).findings
    assert finding.start.line == 2
    assert finding.start.column == line.index("sqlite3.connect")  # characters: 22, bytes: 26
    assert finding.end.column == line.index(" as c")


class _Exploding(Rule):
    """Test-only rule whose check raises, to prove an internal error does not end the run."""

    code = "DBL999"
    name = "exploding"
    message = "boom"

    @classmethod
    def check(cls, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")


def test_an_internal_error_is_reported_for_the_file_and_the_run_goes_on() -> None:
    from dbleak.engine import check_text

    rules = (_Exploding, *[r for r in all_rules() if r.code == "DBL104"])
    result = check_text("import sqlite3\n" + LEAK, "m.py", SETTINGS, rules=rules)
    assert [f.code for f in result.findings] == ["DBL104"]
    assert len(result.internal_errors) == 1
    assert "internal error in DBL999 (exploding)" in result.internal_errors[0]
    assert "kaboom" in result.internal_errors[0]


def test_module_name_for_packages(tmp_path) -> None:
    pkg = tmp_path / "pkg" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("")
    assert module_name_for(str(pkg / "mod.py")) == "pkg.sub.mod"
    assert module_name_for(str(pkg / "__init__.py")) == "pkg.sub"
    assert module_name_for(str(tmp_path / "script.py")) == "script"
    assert module_name_for("<stdin>") == ""


def test_import_resolution_forms() -> None:
    for header, call in [
        ("import sqlite3", "sqlite3.connect"),
        ("from sqlite3 import connect as c", "c"),
        ("import sqlite3 as s", "s.connect"),
        ("import sqlite3.dbapi2", "sqlite3.dbapi2.connect"),
        ("from sqlite3 import dbapi2", "dbapi2.connect"),
        ("import sqlite3\nconnect = sqlite3.connect", "connect"),
    ]:
        source = f"{header}\nwith {call}('x') as conn:\n    pass\n"
        assert [f.code for f in check_source(source, "m.py", SETTINGS).findings] == ["DBL104"], header
    # A name imported and then rebound to something else resolves to nothing.
    rebound = "from sqlite3 import connect\nconnect = make_connect()\nwith connect('x') as c:\n    pass\n"
    assert check_source(rebound, "m.py", SETTINGS).findings == ()


def test_form_feed_does_not_shift_lines_or_columns() -> None:
    source = "import sqlite3\n\x0c\nx = 'é'\x0c; y = 1\nwith open('é') as f, sqlite3.connect('a') as c:\n    pass\n"
    (finding,) = check_source(source, "m.py", SETTINGS).findings
    assert finding.start.line == 4
    assert finding.start.column == "with open('é') as f, ".__len__()


def test_source_segment_matches_the_standard_library() -> None:
    import ast

    from dbleak.source import source_segment

    text = "x = 'é☕'; y = f(\n  'ü', 2)\r\nz = [1,\r\n 2]\n\x0cw = {'k': 'ö'}\n"
    for node in ast.walk(ast.parse(text)):
        if hasattr(node, "lineno"):
            assert source_segment(text, node) == ast.get_source_segment(text, node)


def test_a_finding_on_a_chain_over_lines_sits_on_the_method_and_its_noqa_works() -> None:
    from dbleak.engine import check_text
    from dbleak.settings import Settings

    text = (
        "from sqlalchemy.orm import Session\n"
        "\n"
        "def f(session: Session, Event):\n"
        "    events = (\n"
        "        session.query(Event)\n"
        "        .filter(Event.kind == 'x')\n"
        "        .all(){noqa}\n"
        "    )\n"
        "    for e in events:\n"
        "        print(e)\n"
    )
    settings = Settings(select=("DBL202",))
    found = check_text(text.format(noqa=""), "m.py", settings).findings
    assert [(f.code, f.start.line, f.start.column) for f in found] == [("DBL202", 7, 9)]
    assert check_text(text.format(noqa="  # noqa: DBL202"), "m.py", settings).findings == ()
