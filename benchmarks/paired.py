"""Paired timing of whole commands: each runs in turn, round after round; medians per command.

    python benchmarks/paired.py ROUNDS COMMANDS.json [CWD]

COMMANDS.json maps a name to ``[{extra environment}, [argv...]]``. Prints, per command, the
median (and fastest) wall time and the median (and least) CPU time (user + system of the
process and its children). Pairing and CPU time keep a shared machine's load from deciding a
comparison.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time


def main() -> None:
    rounds, commands = int(sys.argv[1]), json.loads(sys.argv[2])
    cwd = sys.argv[3] if len(sys.argv) > 3 else None
    measured: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
    for _ in range(rounds):
        for name, (extra, argv) in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(argv, env={**os.environ, **extra}, cwd=cwd, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            measured[name][0].append(wall)
            measured[name][1].append(after.ru_utime - before.ru_utime
                                     + after.ru_stime - before.ru_stime)
    for name, (walls, cpus) in measured.items():
        print(f"{name:32s} wall median {statistics.median(walls):.3f} s "
              f"(min {min(walls):.3f})  cpu median {statistics.median(cpus):.3f} s "
              f"(min {min(cpus):.3f})")


if __name__ == "__main__":
    main()
