"""Helpers of the language server tests: a recording client, waiting, applying edits."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

T = TypeVar("T")

# A module whose `with sqlite3.connect()` does not close the connection: one DBL104 finding.
LEAK = (
    "import sqlite3\n"
    "\n"
    "\n"
    "def record(path):\n"
    "    with sqlite3.connect(path) as conn:\n"
    "        conn.execute('INSERT INTO log VALUES (1)')\n"
)

# A deadline for things that must happen, so a broken server fails the test instead of hanging it.
DEADLINE_SECONDS = 60.0


class RecordingClient(LanguageClient):
    """The pytest-lsp client, also keeping every publishDiagnostics and registration it gets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.published: list[types.PublishDiagnosticsParams] = []
        self.registrations: list[types.Registration] = []
        # Every publishDiagnostics and window/logMessage, in the order they arrived.
        self.events: list[types.PublishDiagnosticsParams | types.LogMessageParams] = []


def _record_diagnostics(client: RecordingClient, params: types.PublishDiagnosticsParams) -> None:
    client.diagnostics[params.uri] = params.diagnostics
    client.published.append(params)
    client.events.append(params)


def _record_log(client: RecordingClient, params: types.LogMessageParams) -> None:
    client.log_messages.append(params)
    client.events.append(params)


def _record_registration(client: RecordingClient, params: types.RegistrationParams) -> None:
    client.registrations.extend(params.registrations)


def make_client() -> RecordingClient:
    client = RecordingClient(converter_factory=default_converter)
    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = _record_diagnostics
    features[types.CLIENT_REGISTER_CAPABILITY] = _record_registration
    features[types.WINDOW_LOG_MESSAGE] = _record_log
    register_lsp_features(client, features)
    return client


async def start(client: RecordingClient, root: Path, options: dict[str, Any] | None = None,
                editor: str = "visual-studio-code") -> types.InitializeResult:
    """Initialize the session with ``root`` as the workspace (fast debounce unless told)."""
    options = {"debounce-ms": 20, **(options or {})}
    return await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(editor),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="project")],
        initialization_options=options,
    ))


async def eventually(check: Callable[[], T | None], what: str) -> T:
    """Poll ``check`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_SECONDS
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"no {what} within {DEADLINE_SECONDS} s")
        await asyncio.sleep(0.01)


async def published(client: RecordingClient, uri: str, version: int | None = None,
                    after: int = 0) -> types.PublishDiagnosticsParams:
    """The latest diagnostics for ``uri`` (for ``version``) among those received after ``after``."""
    def latest() -> types.PublishDiagnosticsParams | None:
        found = [p for p in client.published[after:]
                 if p.uri == uri and (version is None or p.version == version)]
        return found[-1] if found else None

    return await eventually(latest, f"diagnostics for {uri} version {version}")


def checked_after_the_index(client: RecordingClient, uri: str, version: int) -> bool:
    """Diagnostics of ``uri`` at ``version`` arrived after the server said its workspace index
    was ready (it says so before the re-checks it starts)."""
    ready = next((i for i, e in enumerate(client.events) if isinstance(e, types.LogMessageParams)
                  and "workspace index ready" in e.message), None)
    return ready is not None and any(
        isinstance(e, types.PublishDiagnosticsParams) and e.uri == uri and e.version == version
        for e in client.events[ready + 1:])


async def settled(client: RecordingClient, uri: str, version: int = 1) -> None:
    """Wait until the open document was checked with the workspace index: no re-check of it
    is still to come from the index (a test that then changes something sees only its own)."""
    await eventually(lambda: checked_after_the_index(client, uri, version),
                     f"a check of {uri} version {version} once the index is ready")


def open_document(client: RecordingClient, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version,
                                             text=text)))
    return uri


def change_document(client: RecordingClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


async def code_actions(client: RecordingClient, uri: str, diagnostics: list[types.Diagnostic],
                       only: list[str] | None = None,
                       at: types.Range | None = None) -> list[types.CodeAction]:
    if at is None:
        at = diagnostics[0].range if diagnostics else types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    result = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=at,
        context=types.CodeActionContext(diagnostics=diagnostics, only=only)))
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


def column_units(text: str, encoding: str = "utf-16") -> int:
    """The length of ``text`` in the code units of an LSP position encoding."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _offset(text: str, position: types.Position, encoding: str) -> int:
    lines = re.split(r"(?<=\r\n)|(?<=\r)(?!\n)|(?<=\n)", text)
    if position.line >= len(lines):
        return len(text)
    start = sum(len(line) for line in lines[:position.line])
    line = lines[position.line].rstrip("\r\n")
    used = 0
    for column, char in enumerate(line):
        if used >= position.character:
            return start + column
        used += column_units(char, encoding)
    return start + len(line)


def apply_edit(text: str, uri: str, edit: types.WorkspaceEdit, encoding: str = "utf-16") -> str:
    """Apply the text edits a workspace edit makes to ``uri`` (as an editor would)."""
    edits: list[types.TextEdit] = []
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri:
            edits.extend(e for e in change.edits if isinstance(e, types.TextEdit))
    edits.extend((edit.changes or {}).get(uri, []))
    spans = sorted(((_offset(text, e.range.start, encoding), _offset(text, e.range.end, encoding),
                     e.new_text) for e in edits), reverse=True)
    for begin, end, new_text in spans:
        text = text[:begin] + new_text + text[end:]
    return text


def cli_fix(text: str, path: Path) -> str:
    """What `dbleak check --fix --stdin-filename PATH -` makes of ``text``."""
    run = subprocess.run(
        [sys.executable, "-m", "dbleak", "check", "--fix", "--stdin-filename", str(path), "-"],
        input=text.encode("utf-8"), capture_output=True, check=False)
    assert run.returncode in (0, 1), run.stderr.decode()
    return run.stdout.decode("utf-8")
