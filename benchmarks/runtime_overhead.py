"""Overhead of `pytest --dbleak`: 100,000 sqlite3 connect/close and 100,000 small queries, run as
one pytest test, with and without the plugin, interleaved (with, without, with, ...), reporting
the medians.

    PYTHONPATH=src python benchmarks/runtime_overhead.py [--repeats 5] [--n 100000] [--src PATH]

Each run is a fresh `python -m pytest` process; the time measured is the test's own loop: the
process's CPU time (`time.process_time`, so that the other work of a shared machine is not
counted), the best of `--rounds` runs of the loop in that process, written to a file by the test.
pytest's start-up is not in the figure. `--src` measures another checkout's plugin (default: this one's `src`). The overhead
printed is the median of the per-repeat ratios (each with-run against the without-run next to it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TEST = '''
import os
import sqlite3
import time

N = {n}
ROUNDS = {rounds}


def _record(name, loop):
    # The CPU time of the process (a shared machine's other work is not counted), the best of
    # ROUNDS runs of the loop.
    best = None
    for _ in range(ROUNDS):
        start = time.process_time()
        loop()
        seconds = time.process_time() - start
        best = seconds if best is None else min(best, seconds)
    with open(os.environ["RUNTIME_OVERHEAD_TIMES"], "a") as out:
        out.write(f"{{name}} {{best!r}}\\n")


def test_connect_close():
    def loop():
        for _ in range(N):
            sqlite3.connect(":memory:").close()
    _record("test_connect_close", loop)


def _table():
    conn = sqlite3.connect(":memory:")
    conn.execute("create table t (id integer primary key, name text)")
    conn.executemany("insert into t values (?, ?)", [(i, str(i)) for i in range(100)])
    return conn


def test_small_queries_conn_execute():
    conn = _table()

    def loop():
        for i in range(N):
            conn.execute("select name from t where id = ?", (i % 100,)).fetchall()
    _record("test_small_queries_conn_execute", loop)
    conn.close()


def test_small_queries_cursor():
    conn = _table()
    cur = conn.cursor()

    def loop():
        for i in range(N):
            cur.execute("select name from t where id = ?", (i % 100,))
            cur.fetchall()
    _record("test_small_queries_cursor", loop)
    conn.close()
'''


def plugin_args() -> list[str]:
    """`-p dbleak.runtime.plugin` unless the installed package's entry point loads it."""
    from importlib.metadata import entry_points

    if any(ep.value == "dbleak.runtime.plugin" for ep in entry_points(group="pytest11")):
        return []
    return ["-p", "dbleak.runtime.plugin"]


def run(folder: Path, plugin: bool) -> dict[str, float]:
    times = folder / "times.txt"
    times.unlink(missing_ok=True)
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin_args(),
            str(folder / "test_bench.py")]
    if plugin:
        args.append("--dbleak")
    subprocess.run(args, capture_output=True, text=True, cwd=folder, check=True,
                   env={**os.environ, "RUNTIME_OVERHEAD_TIMES": str(times)})
    return {name: float(seconds) for name, seconds in
            (line.split() for line in times.read_text().splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each loop in one process; the fastest is kept")
    parser.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src"),
                        help="the dbleak sources whose plugin is measured (default: this checkout's)")
    options = parser.parse_args()
    src = str(Path(options.src).resolve())
    os.environ["PYTHONPATH"] = src + os.pathsep + os.environ.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_bench.py").write_text(TEST.format(n=options.n, rounds=options.rounds))
        times: dict[tuple[bool, str], list[float]] = {}
        for repeat in range(options.repeats):
            # Alternate which goes first, so that neither always runs on a warmer machine.
            for plugin in ((True, False) if repeat % 2 == 0 else (False, True)):
                for name, seconds in run(folder, plugin).items():
                    times.setdefault((plugin, name), []).append(seconds)
    print(f"plugin from {src}")
    for name in ("test_connect_close", "test_small_queries_conn_execute", "test_small_queries_cursor"):
        with_plugin = statistics.median(times[(True, name)])
        without = statistics.median(times[(False, name)])
        ratios = [w / wo for w, wo in zip(times[(True, name)], times[(False, name)], strict=True)]
        low, high = min(ratios), max(ratios)
        print(f"{name}: without {without:.3f}s, with --dbleak {with_plugin:.3f}s; overhead "
              f"{(statistics.median(ratios) - 1) * 100:+.1f} % (median of {options.repeats} paired "
              f"ratios, {(low - 1) * 100:+.1f} to {(high - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
