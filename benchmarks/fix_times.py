"""The time to render each fix of a tree (what `--output-format json` pays per fix).

    python benchmarks/fix_times.py DIR [--dump FILE]

libcst and the renderers are loaded, and the check's garbage frozen, before the clock starts:
those are paid once per process, not per fix. ``--dump`` pickles every fix's edits (to compare
two versions of dbleak: the same edits, faster).
"""

from __future__ import annotations

import argparse
import gc
import pickle
import statistics
import time
from pathlib import Path

SAMPLE = "import sqlite3\n\n\ndef f(p):\n    with sqlite3.connect(p) as conn:\n        conn.execute('x')\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--dump", type=Path)
    args = parser.parse_args()

    from dbleak.api import RunOptions, check_paths, check_source
    from dbleak.fixing import build_fix
    from dbleak.settings import ConfigResolver

    warm_up = check_source(SAMPLE, "sample.py").findings[0]
    build_fix(SAMPLE, warm_up)  # loads libcst, its parser and the renderers
    resolver = ConfigResolver(isolated=True)
    results = [r for r in check_paths([args.root], resolver.for_path, RunOptions())
               if r.source is not None]
    gc.collect()
    gc.freeze()
    times: list[tuple[float, str]] = []
    fixes = []
    for result in results:
        assert result.source is not None
        for finding in result.result.findings:
            if finding.plan is None:
                continue
            start = time.perf_counter()
            fix = build_fix(result.source, finding)
            times.append((time.perf_counter() - start, f"{finding.path}:{finding.start.line}"))
            fixes.append((finding.path, finding.start.line, finding.code, None if fix is None else
                          [(e.content, e.start, e.end) for e in fix.edits]))
    seconds = sorted((t for t, _ in times), reverse=True)
    print(f"fixes: {len(times)}  total {sum(seconds):.3f} s  median "
          f"{statistics.median(seconds) * 1000 if seconds else 0:.0f} ms  over 50 ms: "
          f"{sum(1 for t in seconds if t > 0.05)}")
    for spent, where in sorted(times, reverse=True)[:5]:
        print(f"  {spent * 1000:6.0f} ms  {where}")
    if args.dump:
        with open(args.dump, "wb") as handle:
            pickle.dump(fixes, handle)


if __name__ == "__main__":
    main()
