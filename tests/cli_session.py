"""What the command-line tests share: a leaky and a clean module, and a run of the CLI."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner, Result

from dbleak.cli import cli

LEAKY = 'import sqlite3\n\n\ndef f(p):\n    with sqlite3.connect(p) as conn:\n        conn.execute("select 1")\n'
CLEAN = "import sqlite3\n\nprint(sqlite3.sqlite_version)\n"


def run(args: list[str], cwd: Path | None = None, input: bytes | str | None = None,
        env: dict[str, str] | None = None) -> Result:
    """``dbleak ARGS`` in ``cwd`` (the current folder when None), as click's runner sees it."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, args, input=input, env=env, catch_exceptions=False)
    finally:
        os.chdir(old)

