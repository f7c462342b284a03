"""Benchmark: time to check (and fix) one generated module, against its size and its leaks.

    python benchmarks/scaling.py [--lines 2500,5000,10000,25000,50000] [--fix] [--repeat 1]

Each size is generated twice: with a leak in about one function in seven (820 leaks at 50,000
lines) and without any. Time should grow in proportion to lines, and the module with leaks
should take at most about twice the leak-free one. Speed is measured here, never in a timed test.
"""

from __future__ import annotations

import argparse
import time

LEAKY = '''
def read_{i}(path):
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id FROM t_{i} LIMIT 10").fetchall()
    total = 0
    for row in rows:
        total += row[0]
    return total
'''

CLEAN = '''
def read_{i}(path):
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT id FROM t_{i} LIMIT 10").fetchall()
    total = 0
    for row in rows:
        total += row[0]
    return total
'''

FILLER = '''
def helper_{i}(values):
    result = []
    for value in values:
        if value % 2:
            result.append(value * {i})
        else:
            result.append(value)
    return result
'''


def generate(lines: int, leaks: bool) -> tuple[str, int]:
    """A module of about ``lines`` lines; with ``leaks``, one leaking function in seven."""
    # Without `closing` imported, each leak's fix must find whether the name is free.
    parts = ["import sqlite3\n" if leaks else "import sqlite3\nfrom contextlib import closing\n"]
    count = 0
    total = 2
    i = 0
    while total < lines:
        if i % 7 == 0:
            block = (LEAKY if leaks else CLEAN).format(i=i)
            count += leaks
        else:
            block = FILLER.format(i=i)
        parts.append(block)
        total += block.count("\n")
        i += 1
    return "".join(parts), count


def measure(text: str, fix: bool) -> float:
    from dbleak.api import check_source, fix_source

    start = time.perf_counter()
    if fix:
        fix_source(text, "bench.py")
    else:
        check_source(text, "bench.py", build_fixes=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", default="2500,5000,10000,25000,50000")
    parser.add_argument("--fix", action="store_true", help="time fix_source instead of a check")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"{'lines':>7} {'leaks':>6} {'with leaks s':>13} {'leak-free s':>12} {'ratio':>6} "
          f"{'µs/line':>8}")
    measure(generate(500, True)[0], args.fix)  # imports and first-use caches, not timed below
    for lines in (int(x) for x in args.lines.split(",")):
        leaky, count = generate(lines, True)
        clean, _ = generate(lines, False)
        with_leaks = min(measure(leaky, args.fix) for _ in range(args.repeat))
        without = min(measure(clean, args.fix) for _ in range(args.repeat))
        real_lines = leaky.count("\n")
        print(f"{real_lines:>7} {count:>6} {with_leaks:>13.2f} {without:>12.2f} "
              f"{with_leaks / without:>6.2f} {with_leaks / real_lines * 1e6:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
