"""`dbleak tables`: table sizes read from real databases (SQLite, PostgreSQL, MariaDB), and the
`small-tables` list it prints silencing exactly the reads of small tables."""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbleak.cli import cli
from dbleak.tables import TableSize, table_sizes

sys.path.insert(0, str(Path(__file__).parent / "drivers"))

from driver_servers import MariaDBServer, PostgresServer, module_or_skip, server_or_skip

BIG = 1500


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def sqlite_db(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE document_types (id INTEGER PRIMARY KEY, label TEXT)")
    conn.execute("CREATE TABLE documents (id INTEGER PRIMARY KEY, type_id INTEGER, body TEXT)")
    conn.execute('CREATE TABLE "odd ""name" (id INTEGER)')
    conn.executemany("INSERT INTO document_types (label) VALUES (?)", [("a",), ("b",), ("c",)])
    conn.executemany("INSERT INTO documents (type_id, body) VALUES (1, ?)",
                     [(str(i),) for i in range(BIG)])
    conn.commit()
    conn.close()
    return path


def test_sqlite_sizes_stop_counting_past_the_limit(sqlite_db: Path) -> None:
    sizes = {s.name: s.rows for s in table_sizes(str(sqlite_db), 1000)}
    assert sizes == {"document_types": 3, "documents": 1001, 'odd "name': 0}
    assert table_sizes(f"sqlite:///{sqlite_db}", 5000) == [
        TableSize("document_types", 3), TableSize("documents", BIG), TableSize('odd "name', 0)]


def test_cli_prints_small_tables_as_toml_and_writes_nothing(sqlite_db: Path) -> None:
    before = hashlib.sha256(sqlite_db.read_bytes()).hexdigest()
    code, out, _err = _invoke("tables", str(sqlite_db), "--max-rows", "10")
    assert code == 0
    assert "[tool.dbleak.sql]\nsmall-tables = [\n" in out
    assert '    "document_types",\n' in out and '    "odd \\"name",\n' in out
    assert '"documents"' not in out
    assert hashlib.sha256(sqlite_db.read_bytes()).hexdigest() == before
    code, out, _err = _invoke("tables", str(sqlite_db), "--output-format", "json")
    assert code == 0 and '"table": "documents"' in out and '"small": false' in out


def test_printed_list_silences_reads_of_the_small_tables_only(sqlite_db: Path,
                                                              tmp_path: Path) -> None:
    """The printed TOML, pasted into pyproject.toml, is what DBL201 reads."""
    project = tmp_path / "project"
    project.mkdir()
    code, toml, _err = _invoke("tables", str(sqlite_db))
    assert code == 0
    (project / "pyproject.toml").write_text(toml, encoding="utf-8")
    (project / "report.py").write_text(
        "import sqlite3\n\n\n"
        "def report(path):\n"
        "    conn = sqlite3.connect(path)\n"
        "    for (label,) in conn.execute('SELECT label FROM document_types').fetchall():\n"
        "        print(label)\n"
        "    for (body,) in conn.execute('SELECT body FROM documents').fetchall():\n"
        "        print(body)\n"
        "    conn.close()\n", encoding="utf-8")
    code, out, _err = _invoke("check", str(project), "--select", "DBL2",
                              "--output-format", "concise")
    assert code == 1
    assert "report.py:8:" in out and "`documents`" in out
    assert "report.py:6:" not in out


def test_bad_databases_get_a_clear_message(tmp_path: Path) -> None:
    code, _out, err = _invoke("tables", str(tmp_path / "missing.db"))
    assert code == 2 and "missing.db: no such SQLite database file" in err
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello, this is not a database\n" * 20, encoding="utf-8")
    code, _out, err = _invoke("tables", str(not_sqlite))
    assert code == 2 and "notes.txt" in err and "not a database" in err
    code, _out, err = _invoke("tables", "oracle://scott:tiger@db/orcl")
    assert code == 2 and "unknown kind of database 'oracle'" in err and "tiger" not in err
    code, _out, err = _invoke("tables", "postgresql://someone:s3cret@127.0.0.1:1/app")
    assert code == 2 and "someone:***@127.0.0.1" in err and "s3cret" not in err


# --- servers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    for server in server_or_skip(PostgresServer.start):
        psycopg2 = module_or_skip("psycopg2", "psycopg2-binary")
        conn = psycopg2.connect(server.dsn)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE realms (id serial PRIMARY KEY, name text)")
            cur.execute("INSERT INTO realms (name) VALUES ('a'), ('b')")
            cur.execute("CREATE TABLE tokens (id serial PRIMARY KEY, serial text)")
            cur.execute("INSERT INTO tokens (serial) SELECT 't' || i "
                        "FROM generate_series(1, %s) AS i", (BIG,))
            cur.execute("CREATE SCHEMA audit")
            cur.execute("CREATE TABLE audit.entries (id serial PRIMARY KEY)")
            cur.execute("CREATE VIEW realm_names AS SELECT name FROM realms")
        conn.close()
        yield f"postgresql://postgres@/postgres?host={server.socket_dir}"


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_postgres_sizes(postgres_url: str, driver: str) -> None:
    module_or_skip(driver, "psycopg[binary]" if driver == "psycopg" else "psycopg2-binary")
    sizes = {s.name: s.rows for s in table_sizes(postgres_url, 1000, postgres_drivers=(driver,))}
    # Tables only (no views), schema-qualified outside `public`, counts capped past the limit.
    assert sizes == {"realms": 2, "tokens": 1001, "audit.entries": 0}


def test_postgres_cli(postgres_url: str) -> None:
    code, out, _err = _invoke("tables", postgres_url, "--max-rows", "100")
    assert code == 0
    assert '    "audit.entries",\n    "realms",\n]' in out


@pytest.fixture(scope="module")
def mariadb_url() -> Iterator[str]:
    for server in server_or_skip(MariaDBServer.start):
        pymysql = module_or_skip("pymysql", "pymysql")
        conn = pymysql.connect(unix_socket=server.socket, user="root", autocommit=True)
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE app")
            cur.execute("CREATE TABLE app.roles (id INT PRIMARY KEY AUTO_INCREMENT, name TEXT)")
            cur.execute("INSERT INTO app.roles (name) VALUES ('admin'), ('user')")
            cur.execute("CREATE TABLE app.`events log` (id INT PRIMARY KEY AUTO_INCREMENT)")
            cur.executemany("INSERT INTO app.`events log` () VALUES ()", [()] * BIG)
        conn.close()
        yield f"mysql://root@localhost/app?unix_socket={server.socket}"


def test_mariadb_sizes(mariadb_url: str) -> None:
    sizes = {s.name: s.rows for s in table_sizes(mariadb_url, 1000)}
    assert sizes == {"events log": 1001, "roles": 2}
    code, out, _err = _invoke("tables", mariadb_url)
    assert code == 0 and '    "roles",\n]' in out
