"""`dbleak server` end to end: diagnostics, quick fixes, suppression, fix-all, configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_session import (
    LEAK,
    RecordingClient,
    apply_edit,
    change_document,
    cli_fix,
    code_actions,
    column_units,
    eventually,
    open_document,
    published,
    settled,
    start,
)
from lsprotocol import types

pytestmark = pytest.mark.asyncio

CLEAN = "import sqlite3\n\nprint(sqlite3.version)\n"
FIX_ALL_KIND = "source.fixAll.dbleak"


def _column(text: str, needle: str, encoding: str = "utf-16") -> tuple[int, int]:
    """(line, column in code units) of ``needle``'s first occurrence."""
    before = text[:text.index(needle)]
    line = before.count("\n")
    return line, column_units(before.rsplit("\n", 1)[-1], encoding)


async def test_open_publishes_one_diagnostic_per_finding(client: RecordingClient, tmp_path: Path):
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", LEAK)
    params = await published(client, uri, version=1)
    assert len(params.diagnostics) == 1
    diagnostic = params.diagnostics[0]
    assert diagnostic.code == "DBL104"
    assert diagnostic.source == "dbleak"
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.code_description is not None
    assert diagnostic.code_description.href.endswith("/DBL104/")
    assert "does not close the connection" in diagnostic.message
    line, column = _column(LEAK, "sqlite3.connect(path)")
    assert diagnostic.range == types.Range(
        start=types.Position(line=line, character=column),
        end=types.Position(line=line, character=column + len("sqlite3.connect(path)")))
    assert diagnostic.data["fix"]["applicability"] == "safe"


async def test_edit_updates_diagnostics_after_the_debounce(client: RecordingClient, tmp_path: Path):
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", LEAK)
    assert len((await published(client, uri, version=1)).diagnostics) == 1
    change_document(client, uri, CLEAN, version=2)
    assert not (await published(client, uri, version=2)).diagnostics
    change_document(client, uri, "\n\n" + LEAK, version=3)
    moved = (await published(client, uri, version=3)).diagnostics
    assert [d.range.start.line for d in moved] == [_column(LEAK, "sqlite3.connect(")[0] + 2]


async def test_save_checks_when_lint_on_change_is_off(client: RecordingClient, tmp_path: Path):
    await start(client, tmp_path, {"lint-on-change": False})
    uri = open_document(client, tmp_path / "app.py", LEAK)
    await published(client, uri, version=1)
    change_document(client, uri, "\n" + LEAK, version=2)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    saved = await published(client, uri, version=2)
    assert [d.range.start.line for d in saved.diagnostics] == [5]


async def test_close_clears_the_diagnostics(client: RecordingClient, tmp_path: Path):
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", LEAK)
    await settled(client, uri)
    count = len(client.published)
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    cleared = await published(client, uri, after=count)
    assert not cleared.diagnostics


async def test_quick_fix_gives_the_text_of_check_fix(client: RecordingClient, tmp_path: Path):
    await start(client, tmp_path)
    path = tmp_path / "app.py"
    uri = open_document(client, path, LEAK)
    diagnostics = list((await published(client, uri, version=1)).diagnostics)
    actions = await code_actions(client, uri, diagnostics, only=["quickfix"])
    fixes = [a for a in actions if a.is_preferred]
    assert len(fixes) == 1
    fix = fixes[0]
    assert fix.kind == types.CodeActionKind.QuickFix
    assert fix.title.startswith("DBL104: ") and "(unsafe)" not in fix.title
    assert list(fix.diagnostics or []) == diagnostics
    assert fix.edit is not None
    fixed = apply_edit(LEAK, uri, fix.edit)
    assert fixed == cli_fix(LEAK, path)
    assert "closing(sqlite3.connect(path))" in fixed
    assert all(a.kind != FIX_ALL_KIND for a in actions)


async def test_quick_fix_without_data_round_trip(client: RecordingClient, tmp_path: Path):
    """Clients that drop `data`, or send no diagnostics, still get the fix for the range."""
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", LEAK)
    diagnostic = (await published(client, uri, version=1)).diagnostics[0]
    stripped = types.Diagnostic(range=diagnostic.range, message=diagnostic.message,
                                code=diagnostic.code, source=diagnostic.source)
    for context in ([stripped], []):
        actions = await code_actions(client, uri, context, only=["quickfix"], at=diagnostic.range)
        assert [a.title.split(":")[0] for a in actions] == ["DBL104", "Disable DBL104 for this line"]


async def test_unsafe_fix_is_offered_but_labelled_and_not_preferred(client: RecordingClient,
                                                                    tmp_path: Path):
    text = LEAK.replace("conn.execute('INSERT INTO log VALUES (1)')", "archive(conn)")
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", text)
    diagnostics = list((await published(client, uri, version=1)).diagnostics)
    assert diagnostics[0].data["fix"]["applicability"] == "unsafe"
    actions = await code_actions(client, uri, diagnostics, only=["quickfix"])
    unsafe = [a for a in actions if "(unsafe)" in a.title]
    assert len(unsafe) == 1 and not unsafe[0].is_preferred


@pytest.mark.parametrize("unsafe_fixes", [False, True])
async def test_fix_all_takes_unsafe_fixes_only_when_told(client: RecordingClient, tmp_path: Path,
                                                         unsafe_fixes: bool):
    text = LEAK.replace("conn.execute('INSERT INTO log VALUES (1)')", "archive(conn)")
    await start(client, tmp_path, {"unsafe-fixes": unsafe_fixes})
    uri = open_document(client, tmp_path / "app.py", text)
    await published(client, uri, version=1)
    actions = await code_actions(client, uri, [], only=["source.fixAll.dbleak"])
    assert len(actions) == (1 if unsafe_fixes else 0)


async def test_disable_for_this_line_adds_a_noqa_comment(client: RecordingClient, tmp_path: Path):
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", LEAK)
    diagnostics = list((await published(client, uri, version=1)).diagnostics)
    actions = await code_actions(client, uri, diagnostics)
    disable = [a for a in actions if a.title == "Disable DBL104 for this line"]
    assert len(disable) == 1 and disable[0].edit is not None
    suppressed = apply_edit(LEAK, uri, disable[0].edit)
    assert suppressed == LEAK.replace("as conn:\n", "as conn:  # noqa: DBL104\n")
    change_document(client, uri, suppressed, version=2)
    assert not (await published(client, uri, version=2)).diagnostics


async def test_disable_for_this_line_extends_an_existing_noqa(client: RecordingClient,
                                                              tmp_path: Path):
    text = LEAK.replace("as conn:\n", "as conn:  # noqa: DBL101\n")
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", text)
    diagnostics = list((await published(client, uri, version=1)).diagnostics)
    actions = await code_actions(client, uri, diagnostics, only=["quickfix"])
    disable = [a for a in actions if a.title.startswith("Disable")]
    assert disable[0].edit is not None
    assert apply_edit(text, uri, disable[0].edit) == LEAK.replace(
        "as conn:\n", "as conn:  # noqa: DBL101, DBL104\n")


async def test_fix_all_applies_every_safe_fix(client: RecordingClient, tmp_path: Path):
    text = LEAK + "\n\ndef purge(path):\n    with sqlite3.connect(path) as db:\n        db.execute('DELETE FROM log')\n"
    await start(client, tmp_path)
    path = tmp_path / "app.py"
    uri = open_document(client, path, text)
    diagnostics = list((await published(client, uri, version=1)).diagnostics)
    assert len(diagnostics) == 2
    actions = await code_actions(client, uri, [], only=["source.fixAll"])
    assert [a.kind for a in actions] == [FIX_ALL_KIND]
    assert actions[0].edit is not None
    fixed = apply_edit(text, uri, actions[0].edit)
    assert fixed == cli_fix(text, path)
    assert fixed.count("closing(") == 2
    assert await code_actions(client, uri, [], only=["quickfix"]) == []


async def test_a_syntax_error_is_one_diagnostic_and_the_server_stays_up(client: RecordingClient,
                                                                        tmp_path: Path):
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "broken.py", "import sqlite3\n\ndef f(:\n    pass\n")
    diagnostics = (await published(client, uri, version=1)).diagnostics
    assert [(d.code, d.severity) for d in diagnostics] == [("DBL001", types.DiagnosticSeverity.Error)]
    assert diagnostics[0].range.start.line == 2
    assert await code_actions(client, uri, list(diagnostics)) == []
    change_document(client, uri, LEAK, version=2)
    assert [d.code for d in (await published(client, uri, version=2)).diagnostics] == ["DBL104"]


NON_ASCII = (
    "import sqlite3\n"
    "# Größe: 😀 日本\n"
    "def f(p):\n"
    "    with open('😀é.txt') as log, sqlite3.connect('😀.db') as conn:\n"
    "        conn.execute('select 1')\n"
)


@pytest.mark.parametrize(("editor", "encoding"), [("visual-studio-code", "utf-16"),
                                                  ("neovim@v0.11.0", "utf-8"),
                                                  ("emacs", "utf-32")])
async def test_columns_are_in_the_negotiated_encoding(client: RecordingClient, tmp_path: Path,
                                                      editor: str, encoding: str):
    result = await start(client, tmp_path, editor=editor)
    assert (result.capabilities.position_encoding or "utf-16") == encoding
    path = tmp_path / "app.py"
    uri = open_document(client, path, NON_ASCII)
    diagnostics = list((await published(client, uri, version=1)).diagnostics)
    assert len(diagnostics) == 1
    call = "sqlite3.connect('😀.db')"
    line, column = _column(NON_ASCII, call, encoding)
    assert diagnostics[0].range.start == types.Position(line=line, character=column)
    assert diagnostics[0].range.end == types.Position(
        line=line, character=column + column_units(call, encoding))
    fix = next(a for a in await code_actions(client, uri, diagnostics) if a.is_preferred)
    assert fix.edit is not None
    assert apply_edit(NON_ASCII, uri, fix.edit, encoding) == cli_fix(NON_ASCII, path)


async def test_crlf_lines_are_counted_once(client: RecordingClient, tmp_path: Path):
    text = LEAK.replace("\n", "\r\n")
    await start(client, tmp_path)
    path = tmp_path / "app.py"
    uri = open_document(client, path, text)
    diagnostics = list((await published(client, uri, version=1)).diagnostics)
    assert diagnostics[0].range.start == types.Position(line=4, character=9)
    actions = await code_actions(client, uri, diagnostics)
    fix = next(a for a in actions if a.is_preferred)
    assert fix.edit is not None
    assert apply_edit(text, uri, fix.edit) == cli_fix(text, path)


async def test_a_pyproject_change_takes_effect(client: RecordingClient, tmp_path: Path):
    await start(client, tmp_path)
    # The client said it can watch files for the server: the server asks for the config files.
    registrations = await eventually(lambda: client.registrations, "watcher registration")
    assert registrations[0].method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    globs = [w["globPattern"] for w in registrations[0].register_options["watchers"]]
    # ... and for the Python files, whose changes on disk can change other files' findings.
    assert globs == ["**/dbleak.toml", "**/pyproject.toml", "**/*.py", "**/*.pyi"]
    package = tmp_path / "pkg"
    package.mkdir()
    uri = open_document(client, package / "app.py", LEAK)
    assert len((await published(client, uri, version=1)).diagnostics) == 1
    await settled(client, uri)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.dbleak]\nignore = ["DBL104"]\n', encoding="utf-8")
    count = len(client.published)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=pyproject.as_uri(), type=types.FileChangeType.Created)]))
    assert not (await published(client, uri, version=1, after=count)).diagnostics
    pyproject.write_text('[tool.dbleak]\nselect = ["DBL1"]\n', encoding="utf-8")
    count = len(client.published)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=pyproject.as_uri(), type=types.FileChangeType.Changed)]))
    assert len((await published(client, uri, version=1, after=count)).diagnostics) == 1


async def test_a_pyproject_change_is_noticed_without_file_watching(client: RecordingClient,
                                                                    tmp_path: Path):
    # Neovim does not watch files for servers: the next check notices the change itself.
    await start(client, tmp_path, {"lint-on-change": False}, editor="neovim@v0.11.0")
    assert client.registrations == []
    uri = open_document(client, tmp_path / "app.py", LEAK)
    assert len((await published(client, uri, version=1)).diagnostics) == 1
    await settled(client, uri)
    (tmp_path / "dbleak.toml").write_text('ignore = ["DBL104"]\n', encoding="utf-8")
    count = len(client.published)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert not (await published(client, uri, version=1, after=count)).diagnostics


async def test_a_broken_configuration_is_shown_and_the_defaults_apply(client: RecordingClient,
                                                                       tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.dbleak]\nselectt = ["DBL1"]\n', encoding="utf-8")
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", LEAK)
    assert len((await published(client, uri, version=1)).diagnostics) == 1
    messages = await eventually(lambda: client.messages, "window/showMessage")
    assert "unknown key `selectt`" in messages[0].message
    assert messages[0].type == types.MessageType.Error


async def test_initialization_options_select_and_ignore(client: RecordingClient, tmp_path: Path):
    await start(client, tmp_path, {"ignore": ["DBL104"], "no-such-option": 1})
    uri = open_document(client, tmp_path / "app.py", LEAK)
    assert not (await published(client, uri, version=1)).diagnostics
    messages = await eventually(lambda: client.messages, "window/showMessage")
    assert "no-such-option" in messages[0].message



async def test_factories_from_other_workspace_files_are_known(client: RecordingClient,
                                                              tmp_path: Path):
    (tmp_path / "db.py").write_text(
        "import sqlite3\n\n\ndef get_db(path):\n    return sqlite3.connect(path)\n")
    app = "from db import get_db\n\n\ndef count(path):\n    conn = get_db(path)\n" \
          "    return conn.execute('select 1').fetchone()\n"
    (tmp_path / "app.py").write_text(app)
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", app)
    await published(client, uri, version=1)
    # The workspace index is built in the background; the next lint after it sees `get_db`.
    version = 1

    async def relint() -> list[types.Diagnostic] | None:
        nonlocal version
        version += 1
        change_document(client, uri, app + "\n" * version, version)
        diagnostics = (await published(client, uri, version=version)).diagnostics
        return diagnostics if any(d.code == "DBL101" for d in diagnostics) else None

    for _ in range(20):
        found = await relint()
        if found:
            break
    else:
        raise AssertionError("DBL101 through a factory in another file was never reported")
    assert found[0].range.start.line == 4
