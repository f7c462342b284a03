"""End-to-end tests of `dbleak server`: a pytest-lsp client drives a real server over stdio."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsp_session import RecordingClient, make_client
from pytest_lsp import ClientServerConfig


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=[sys.executable, "-m", "dbleak", "server"], client_factory=make_client))
async def client(lsp_client: RecordingClient):  # type: ignore[no-untyped-def]
    yield
    await lsp_client.shutdown_session()


