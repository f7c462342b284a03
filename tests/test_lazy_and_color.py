"""Heavy modules load only when needed (libcst to build fixes, sqlglot to read SQL, pygls for
the server, the rules for a check); colour only on a terminal and never under NO_COLOR."""

from __future__ import annotations

import ast
import gc
import os
import pty
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dbleak.cli import cli

LEAKY = "import sqlite3\n\nwith sqlite3.connect('x') as conn:\n    conn.execute('select 1')\n"


def _modules_after(code: str) -> str:
    program = f"import sys\n{code}\nprint('libcst' in sys.modules)\n"
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip().splitlines()[-1]


def test_a_check_does_not_import_libcst() -> None:
    code = ("from dbleak.api import check_source\n"
            f"r = check_source({LEAKY!r}, 'm.py')\nassert r.findings\n")
    assert _modules_after(code) == "False"


def test_a_fix_does_import_libcst() -> None:
    code = f"from dbleak.api import fix_source\nfix_source({LEAKY!r}, 'm.py')\n"
    assert _modules_after(code) == "True"


def _loaded(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` (and their submodules) ``code`` imports, run in a new interpreter."""
    program = (f"import sys\n{code}\n"
               f"print(sorted({{m.split('.')[0] if m.split('.')[0] != 'dbleak' else m "
               f"for m in sys.modules}} & {set(modules)!r}))\n")
    output = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            check=True, timeout=120).stdout.strip().splitlines()[-1]
    return list(ast.literal_eval(output))


HEAVY = ("sqlglot", "libcst", "pygls", "lsprotocol", "dbleak.engine", "dbleak.rules",
         "dbleak.api", "pathspec")


def test_importing_the_command_line_loads_no_heavy_module() -> None:
    """`dbleak --version`, `dbleak rule` and a pre-commit hook's start pay only for the CLI."""
    assert _loaded("import dbleak.cli", HEAVY) == []


def test_version_loads_no_heavy_module() -> None:
    code = ("import sys\nsys.argv = ['dbleak', '--version']\nfrom dbleak.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n")
    assert _loaded(code, (*HEAVY, "dbleak.models", "difflib")) == []


# What a check in one process, without a cache or a configuration file, never needs: worker
# processes, the cache's hashing and pickling, TOML, --diff, --statistics, a rule's crash, SQL,
# the language server's incremental checker.
NOT_FOR_ONE_FILE = ("multiprocessing", "pickle", "hashlib", "tomllib", "difflib", "json",
                    "logging", "traceback", "dbleak.cache", "dbleak.report.statistics",
                    "dbleak.incremental")


def test_checking_one_file_without_cache_loads_only_what_it_uses(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(LEAKY)
    code = ("import sys, os\n"
            f"os.chdir({str(tmp_path)!r})\n"
            "sys.argv = ['dbleak', 'check', '--no-cache', '--isolated', 'm.py']\n"
            "from dbleak.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n")
    assert _loaded(code, NOT_FOR_ONE_FILE) == []


def test_a_check_gives_the_garbage_collector_back(tmp_path: Path) -> None:
    """The check pauses the cyclic collector for its start-up and run, and only for them."""
    (tmp_path / "m.py").write_text(LEAKY)
    assert gc.isenabled()
    result = CliRunner().invoke(cli, ["check", "--no-cache", str(tmp_path / "m.py")])
    assert result.exit_code == 1 and "DBL104" in result.output
    assert gc.isenabled()


def test_checking_python_without_sql_loads_neither_sqlglot_nor_libcst(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(LEAKY)
    code = ("import sys, os\n"
            f"os.chdir({str(tmp_path)!r})\n"
            "sys.argv = ['dbleak', 'check', '--no-cache', 'm.py']\nfrom dbleak.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n")
    assert _loaded(code, ("sqlglot", "libcst", "pygls", "dbleak.engine")) == ["dbleak.engine"]


def _run_in_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> bytes:
    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "dbleak", *args], cwd=cwd, stdin=child,
                               stdout=child, stderr=child, env=env)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=120)
    os.close(main)
    return b"".join(chunks)


def test_colour_on_a_terminal_only(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(LEAKY)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert b"\x1b[" in _run_in_terminal(["check", "m.py"], tmp_path, env)
    assert b"\x1b[" not in _run_in_terminal(["check", "m.py"], tmp_path, {**env, "NO_COLOR": "1"})
    piped = subprocess.run([sys.executable, "-m", "dbleak", "check", "m.py"], cwd=tmp_path,
                           capture_output=True, env=env, timeout=120)
    assert b"DBL104" in piped.stdout and b"\x1b[" not in piped.stdout
