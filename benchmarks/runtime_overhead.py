"""Overhead of `pytest --dbleak`: 100,000 sqlite3 connect/close and 100,000 small queries, run as
one pytest test, with and without the plugin, interleaved (with, without, with, ...), reporting
the medians.

    PYTHONPATH=src python benchmarks/runtime_overhead.py [--repeats 5] [--n 100000]

Each run is a fresh `python -m pytest` process; the time measured is the test's own (its call
phase, as `--durations` reports it), so pytest's start-up is not in the figure.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TEST = '''
import sqlite3

N = {n}


def test_connect_close():
    for _ in range(N):
        sqlite3.connect(":memory:").close()


def _table():
    conn = sqlite3.connect(":memory:")
    conn.execute("create table t (id integer primary key, name text)")
    conn.executemany("insert into t values (?, ?)", [(i, str(i)) for i in range(100)])
    return conn


def test_small_queries_conn_execute():
    conn = _table()
    for i in range(N):
        conn.execute("select name from t where id = ?", (i % 100,)).fetchall()
    conn.close()


def test_small_queries_cursor():
    conn = _table()
    cur = conn.cursor()
    for i in range(N):
        cur.execute("select name from t where id = ?", (i % 100,))
        cur.fetchall()
    conn.close()
'''


def plugin_args() -> list[str]:
    """`-p dbleak.runtime.plugin` unless the installed package's entry point loads it."""
    from importlib.metadata import entry_points

    if any(ep.value == "dbleak.runtime.plugin" for ep in entry_points(group="pytest11")):
        return []
    return ["-p", "dbleak.runtime.plugin"]


def run(folder: Path, plugin: bool) -> dict[str, float]:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
            *plugin_args(), str(folder / "test_bench.py")]
    if plugin:
        args.append("--dbleak")
    out = subprocess.run(args, capture_output=True, text=True, cwd=folder, check=True).stdout
    return {name: float(seconds) for seconds, name in
            re.findall(r"([0-9.]+)s call\s+\S+::(test_\w+)", out)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=100_000)
    options = parser.parse_args()
    src = str(Path(__file__).resolve().parents[1] / "src")
    os.environ["PYTHONPATH"] = src + os.pathsep + os.environ.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_bench.py").write_text(TEST.format(n=options.n))
        times: dict[tuple[bool, str], list[float]] = {}
        for _ in range(options.repeats):
            for plugin in (True, False):
                for name, seconds in run(folder, plugin).items():
                    times.setdefault((plugin, name), []).append(seconds)
    for name in ("test_connect_close", "test_small_queries_conn_execute", "test_small_queries_cursor"):
        with_plugin = statistics.median(times[(True, name)])
        without = statistics.median(times[(False, name)])
        print(f"{name}: without {without:.3f}s, with --dbleak {with_plugin:.3f}s "
              f"({(with_plugin / without - 1) * 100:+.1f} %), medians of {options.repeats}")


if __name__ == "__main__":
    main()
