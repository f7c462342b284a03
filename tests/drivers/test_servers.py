"""The server fixtures: a missing server fails in CI and skips (naming the package) elsewhere."""

from __future__ import annotations

import pytest

from driver_servers import ServerUnavailable, module_or_skip, server_or_skip


def _missing() -> object:
    raise ServerUnavailable("PostgreSQL server binaries not found: install the Debian package "
                            "`postgresql` (initdb, pg_ctl)")


def test_missing_server_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and PostgreSQL"):
        next(server_or_skip(_missing))


def test_missing_server_skips_naming_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Debian package `postgresql`"):
        next(server_or_skip(_missing))


def test_missing_native_driver_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and the driver module `dbleak_no_such`"):
        module_or_skip("dbleak_no_such", "install it")


def test_missing_native_driver_skips_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from driver_probes import NATIVE_DRIVERS, need_driver

    assert "libmariadb-dev" in NATIVE_DRIVERS["MySQLdb"][1]
    assert "unixodbc-dev" in NATIVE_DRIVERS["pyodbc"][1]
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setitem(NATIVE_DRIVERS, "MySQLdb", ("dbleak_no_such", "pip install it"))
    with pytest.raises(pytest.skip.Exception, match="`dbleak_no_such` cannot be imported.*pip install it"):
        need_driver("MySQLdb")
    need_driver("sqlite3")  # not a native driver: never skipped


def test_servers_answer(postgres_server: object, mariadb_server: object) -> None:
    import psycopg2
    import pymysql

    conn = psycopg2.connect(postgres_server.dsn)  # type: ignore[attr-defined]
    conn.close()
    other = pymysql.connect(unix_socket=mariadb_server.socket, user="root")  # type: ignore[attr-defined]
    other.close()
