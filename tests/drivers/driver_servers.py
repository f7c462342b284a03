"""Throwaway PostgreSQL and MariaDB servers in temporary folders, for the driver tests.

Both refuse to run as root, so they run as the unprivileged user the Debian package created
(`postgres`, `mysql`) through `runuser`, in a folder that user owns, on a unix socket only.
"""

from __future__ import annotations

import atexit
import glob
import importlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, NoReturn, TypeVar

import pytest

T = TypeVar("T")


class ServerUnavailable(Exception):
    """The server binaries are not installed; the message says which Debian package to install."""


def _as_user(user: str, argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", user, "--", *argv]


def _owned_tempdir(user: str, prefix: str) -> Path:
    sweep_orphans(prefix)
    path = Path(tempfile.mkdtemp(prefix=prefix))
    # The test session that owns the server: a later session stops it if this one was killed.
    (path / "owner.pid").write_text(str(os.getpid()))
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o755)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def sweep_orphans(prefix: str) -> None:
    """Stop servers left behind by test sessions that were killed before their teardown."""
    for folder in Path(tempfile.gettempdir()).glob(prefix + "*"):
        owner = _read_pid(folder / "owner.pid")
        if owner is None or _alive(owner):
            continue  # not ours to judge, or its session is still running
        for pid_file in (folder / "data" / "postmaster.pid", folder / "mysqld.pid"):
            server = _read_pid(pid_file)
            if server is not None and _alive(server):
                os.kill(server, signal.SIGQUIT if pid_file.name == "postmaster.pid" else signal.SIGTERM)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(predicate: Callable[[], bool], what: str, log: Path, attempts: int = 300) -> None:
    for _ in range(attempts):
        if predicate():
            return
        time.sleep(0.05)
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    raise RuntimeError(f"{what} did not start:\n{text[-2000:]}")


@dataclass
class PostgresServer:
    folder: Path
    bindir: Path
    user: str = "postgres"

    @property
    def socket_dir(self) -> str:
        return str(self.folder)

    @property
    def dsn(self) -> str:
        return f"host={self.folder} user=postgres dbname=postgres"

    @property
    def url_query(self) -> str:
        return f"host={self.folder}"

    @classmethod
    def start(cls) -> "PostgresServer":
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise ServerUnavailable("PostgreSQL server binaries not found: install the Debian "
                                    "package `postgresql` (initdb, pg_ctl)")
        bindir = Path(found[-1]).parent
        folder = _owned_tempdir("postgres", "dbleak-pg-")
        server = cls(folder, bindir)
        try:
            server._init_and_start()
        except BaseException:  # also an interrupt half-way: leave nothing behind
            server.stop()
            raise
        return server

    def _init_and_start(self) -> None:
        folder, bindir = self.folder, self.bindir
        data = folder / "data"
        subprocess.run(_as_user("postgres", [str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                                             "-U", "postgres", "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True)
        options = f"-k {folder} -c listen_addresses='' -F -c max_connections=60"
        subprocess.run(_as_user("postgres", [str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
                                             "-l", str(folder / "log"), "-w", "start"]),
                       check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(_as_user("postgres", [str(self.bindir / "pg_ctl"), "-D",
                                             str(self.folder / "data"), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class MariaDBServer:
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def socket(self) -> str:
        return str(self.folder / "mysqld.sock")

    @classmethod
    def start(cls) -> "MariaDBServer":
        daemon = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if daemon is None or installer is None:
            raise ServerUnavailable("MariaDB server binaries not found: install the Debian "
                                    "package `mariadb-server` (mariadbd, mariadb-install-db)")
        folder = _owned_tempdir("mysql", "dbleak-mariadb-")
        try:
            return cls._start_in(folder, daemon, installer)
        except BaseException:  # also an interrupt half-way: leave nothing behind
            shutil.rmtree(folder, ignore_errors=True)
            raise

    @classmethod
    def _start_in(cls, folder: Path, daemon: str, installer: str) -> "MariaDBServer":
        data = folder / "data"
        subprocess.run(_as_user("mysql", [installer, "--no-defaults", f"--datadir={data}",
                                          "--auth-root-authentication-method=normal",
                                          "--skip-test-db", "--user=mysql"]),
                       check=True, capture_output=True)
        log = folder / "error.log"
        # Started directly as `mysql` (not through runuser) so that terminate() reaches mariadbd.
        as_mysql = {"user": "mysql", "group": "mysql", "extra_groups": []} if os.geteuid() == 0 else {}
        process = subprocess.Popen(
            [daemon, "--no-defaults", f"--datadir={data}",
             f"--socket={folder / 'mysqld.sock'}", "--skip-networking",
             f"--pid-file={folder / 'mysqld.pid'}", f"--log-error={log}",
             "--innodb-buffer-pool-size=16M"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **as_mysql,
        )
        server = cls(folder, process)
        try:
            _wait_for(server._accepts, "mariadbd", log)
        except BaseException:
            server.stop()
            raise
        return server

    def _accepts(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"mariadbd exited with {self.process.returncode}: "
                               + (self.folder / "error.log").read_text(errors="replace")[-2000:])
        if not os.path.exists(self.socket):
            return False
        import pymysql

        try:
            pymysql.connect(unix_socket=self.socket, user="root").close()
        except pymysql.err.OperationalError:
            return False
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def server_or_skip(start: Callable[[], T]) -> Iterator[T]:
    """Start a server for the session and stop it at the end, even after failures.

    Missing binaries fail the tests in CI (`CI=true`) and skip them elsewhere, naming the
    Debian package to install.
    """
    try:
        server = start()
    except ServerUnavailable as missing:
        if in_ci():
            pytest.fail(f"CI=true and {missing}", pytrace=False)
        pytest.skip(str(missing))
    stop = getattr(server, "stop")
    atexit.register(stop)  # also when the session is interrupted
    try:
        yield server
    finally:
        stop()
        atexit.unregister(stop)


def missing(what: str) -> NoReturn:
    """Something a test needs is not installed: fail in CI (`CI=true`), skip elsewhere."""
    if in_ci():
        pytest.fail(f"CI=true and {what}", pytrace=False)
    pytest.skip(what)


def module_or_skip(name: str, install: str) -> ModuleType:
    """Import a driver that needs native libraries, or skip (fail in CI) saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        missing(f"the driver module `{name}` cannot be imported ({error}): {install}")
