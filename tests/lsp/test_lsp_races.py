"""Races inside the language server, made to happen on purpose in one process.

The end-to-end tests drive a real server over stdio, where a re-check started by the workspace
index can land in the middle of a code-action request only by chance. Here the server runs in the
test's event loop and the re-check is made to land exactly there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls")

from lsp_session import LEAK
from lsprotocol import types
from pygls.workspace import Workspace

from dbleak.lsp import DbleakServer, create_server


def _server(root: Path) -> DbleakServer:
    server = create_server()
    server.protocol._workspace = Workspace(root.as_uri(), types.TextDocumentSyncKind.Full, [],
                                           types.PositionEncodingKind.Utf16)
    server.protocol.client_capabilities = types.ClientCapabilities()
    published: list[types.PublishDiagnosticsParams] = []
    server.published = published  # type: ignore[attr-defined]
    # No client on the other end: what the server would send is kept instead.
    server.publish = lambda uri, version, diagnostics: published.append(  # type: ignore[method-assign]
        types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diagnostics))
    server.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    # No workspace index in the background: its re-checks would race with the ones the tests
    # start on purpose.
    server._project_requested = True
    return server


def _open(server: DbleakServer, path: Path, text: str) -> str:
    uri = path.as_uri()
    server.workspace.put_text_document(types.TextDocumentItem(
        uri=uri, language_id="python", version=1, text=text))
    return uri


def _request(uri: str, diagnostics: list[types.Diagnostic]) -> types.CodeActionParams:
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostics[0].range,
        context=types.CodeActionContext(diagnostics=diagnostics))


def test_a_recheck_of_the_same_text_during_a_request_keeps_its_actions(tmp_path: Path) -> None:
    async def scenario() -> list[types.CodeAction]:
        server = _server(tmp_path)
        uri = _open(server, tmp_path / "app.py", LEAK)
        await server.lint(uri)
        diagnostics = list(server.published[-1].diagnostics)  # type: ignore[attr-defined]
        assert [d.code for d in diagnostics] == ["DBL104"]
        render = server.render_fix

        async def render_while_rechecked(state: Any, index: int) -> Any:
            # The workspace index became ready meanwhile: the same text is checked again and
            # its state replaced before this request's fix is rendered.
            await server.lint(uri)
            assert server.states[uri] is not state
            return await render(state, index)

        server.render_fix = render_while_rechecked  # type: ignore[method-assign]
        try:
            return await server.code_actions(_request(uri, diagnostics))
        finally:
            server.executor.shutdown(wait=True)

    actions = asyncio.run(scenario())
    assert [a.is_preferred for a in actions if a.kind == types.CodeActionKind.QuickFix] == [
        True, None]
    assert "closing(" in repr(actions[0].edit)


def test_an_edit_during_a_request_drops_its_actions(tmp_path: Path) -> None:
    async def scenario() -> list[types.CodeAction]:
        server = _server(tmp_path)
        uri = _open(server, tmp_path / "app.py", LEAK)
        await server.lint(uri)
        diagnostics = list(server.published[-1].diagnostics)  # type: ignore[attr-defined]
        render = server.render_fix

        async def render_while_edited(state: Any, index: int) -> Any:
            server.workspace.put_text_document(types.TextDocumentItem(
                uri=uri, language_id="python", version=2, text=LEAK + "\n"))
            return await render(state, index)

        server.render_fix = render_while_edited  # type: ignore[method-assign]
        try:
            return await server.code_actions(_request(uri, diagnostics))
        finally:
            server.executor.shutdown(wait=True)

    assert asyncio.run(scenario()) == []


def test_a_save_after_a_config_write_is_checked_while_the_first_check_finishes(
        tmp_path: Path) -> None:
    # An editor that does not watch files (Neovim) saves right after `dbleak.toml` was written,
    # while the check of the same text has published but not yet returned: the save is checked
    # again under the new configuration, not taken for the check in flight.
    async def scenario() -> list[types.PublishDiagnosticsParams]:
        server = _server(tmp_path)
        uri = _open(server, tmp_path / "app.py", LEAK)
        lint = server.lint
        finishing = asyncio.Event()

        async def lint_then_linger(target: str) -> None:
            await lint(target)
            if not finishing.is_set():
                finishing.set()
                await asyncio.sleep(0.2)  # published, not yet returned

        server.lint = lint_then_linger  # type: ignore[method-assign]
        try:
            server.schedule_lint(uri)
            await finishing.wait()
            assert [d.code for d in server.published[-1].diagnostics] == ["DBL104"]  # type: ignore[attr-defined]
            (tmp_path / "dbleak.toml").write_text('ignore = ["DBL104"]\n', encoding="utf-8")
            server.schedule_lint(uri)  # the save
            await server.pending[uri][2]
            return list(server.published)  # type: ignore[attr-defined]
        finally:
            server.executor.shutdown(wait=True)

    published = asyncio.run(scenario())
    assert len(published) == 2 and published[-1].diagnostics == []
