"""Session fixtures: one throwaway PostgreSQL and one MariaDB server for the whole run.

In CI (`CI=true`) a missing server binary fails the tests that need it; on a developer machine
they are skipped with a message naming the Debian package to install.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import MariaDBServer, PostgresServer, ServerUnavailable  # noqa: E402

T = TypeVar("T")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _server(start: Callable[[], T]) -> Iterator[T]:
    try:
        server = start()
    except ServerUnavailable as missing:
        if _in_ci():
            pytest.fail(f"CI=true and {missing}", pytrace=False)
        pytest.skip(str(missing))
    stop = getattr(server, "stop")
    atexit.register(stop)  # also when the session is interrupted
    try:
        yield server
    finally:
        stop()
        atexit.unregister(stop)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from _server(PostgresServer.start)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    yield from _server(MariaDBServer.start)
