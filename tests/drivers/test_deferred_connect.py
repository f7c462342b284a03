"""`pymysql.connect(defer_connect=True)` connected later by `.connect()`: DBL101 tracks it and
fixes it with `with closing(pymysql.connect(...)) as conn:`. These prove the fix keeps the
program's behaviour on the real driver and server: closing a connection that never connected
raises nothing, so a failing `.connect()` inside the block still raises its own error."""

from __future__ import annotations

import socket
from contextlib import closing

import pytest


def test_closing_a_deferred_connection_after_it_connects(mariadb_server: object) -> None:
    import pymysql

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(mariadb_server.socket)  # type: ignore[attr-defined]
    with closing(pymysql.connect(defer_connect=True, user="root")) as conn:
        assert not conn.open
        conn.connect(sock)
        assert conn.open
    assert not conn.open


def test_a_failed_connect_keeps_its_own_error_under_closing(mariadb_server: object) -> None:
    import pymysql

    with pytest.raises(pymysql.err.OperationalError), \
            closing(pymysql.connect(defer_connect=True, user="root",
                                    unix_socket="/nonexistent/mysqld.sock")) as conn:
        conn.connect()
    unconnected = pymysql.connect(defer_connect=True, user="root")
    unconnected.close()  # never connected: closing it raises nothing
