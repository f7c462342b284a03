"""The editor sees findings that depend on other files as soon as they are known (issue 17):
when the workspace index is ready, and when a file another one depends on changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_session import (
    RecordingClient,
    change_document,
    checked_after_the_index,
    eventually,
    open_document,
    published,
    start,
)
from lsprotocol import types

pytestmark = pytest.mark.asyncio

FACTORY = "import sqlite3\n\n\ndef get_db(path):\n    return sqlite3.connect(path)\n"
NO_FACTORY = "import sqlite3\n\n\ndef get_db(path):\n    return path\n"
APP = ("from db import get_db\n\n\ndef count(path):\n    conn = get_db(path)\n"
       "    return conn.execute('select 1').fetchone()\n")


def _has_leak(client: RecordingClient, uri: str, after: int = 0) -> bool:
    found = [p for p in client.published[after:] if p.uri == uri]
    return bool(found) and any(d.code == "DBL101" for d in found[-1].diagnostics)


async def test_open_documents_are_checked_again_when_the_index_is_ready(
        client: RecordingClient, tmp_path: Path):
    (tmp_path / "db.py").write_text(FACTORY)
    (tmp_path / "app.py").write_text(APP)
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "app.py", APP)
    await published(client, uri, version=1)
    # No edit, no save: the index being ready is enough for a check of version 1 made with it
    # (an earlier one read db.py through the disk finder; findings from project-wide facts,
    # such as model keys, need the index). The server says when the index is ready, before
    # the re-checks it starts; a check still running then is replaced, not published.
    await eventually(lambda: checked_after_the_index(client, uri, 1),
                     "a check of version 1 once the index is ready")
    assert _has_leak(client, uri)


async def test_a_dependency_changed_in_the_editor_rechecks_its_dependents(
        client: RecordingClient, tmp_path: Path):
    (tmp_path / "db.py").write_text(NO_FACTORY)
    (tmp_path / "app.py").write_text(APP)
    await start(client, tmp_path)
    db = open_document(client, tmp_path / "db.py", NO_FACTORY)
    app = open_document(client, tmp_path / "app.py", APP)
    await published(client, app, version=1)
    await published(client, db, version=1)
    assert not _has_leak(client, app)
    mark = len(client.published)
    change_document(client, db, FACTORY, 2)  # unsaved: the editor's text counts
    await published(client, db, version=2, after=mark)
    await eventually(lambda: _has_leak(client, app, mark), "DBL101 after db.py changed")


async def test_a_dependency_changed_on_disk_rechecks_its_dependents(
        client: RecordingClient, tmp_path: Path):
    db_path = tmp_path / "db.py"
    db_path.write_text(NO_FACTORY)
    (tmp_path / "app.py").write_text(APP)
    await start(client, tmp_path)
    app = open_document(client, tmp_path / "app.py", APP)
    await published(client, app, version=1)
    # Wait for the index: a check of app.py made with it.
    await eventually(lambda: checked_after_the_index(client, app, 1),
                     "the re-check when the index is ready")
    assert not _has_leak(client, app)
    mark = len(client.published)
    db_path.write_text(FACTORY)  # e.g. `git checkout`: the editor's file watcher tells
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=db_path.as_uri(), type=types.FileChangeType.Changed)]))
    await eventually(lambda: _has_leak(client, app, mark), "DBL101 after db.py changed on disk")
