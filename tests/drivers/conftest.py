"""Session fixtures: one throwaway PostgreSQL and one MariaDB server for the whole run.

In CI (`CI=true`) a missing server binary fails the tests that need it; on a developer machine
they are skipped with a message naming the Debian package to install.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def _interrupt_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# `timeout` and CI runners stop a run with SIGTERM: turn it into an interrupt so that the session
# fixtures' teardown (and atexit) still stop the servers.
if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)

from driver_servers import MariaDBServer, PostgresServer, server_or_skip  # noqa: E402

@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from server_or_skip(PostgresServer.start)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    yield from server_or_skip(MariaDBServer.start)
