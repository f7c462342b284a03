"""Benchmark: `dbleak check` against `ast.parse` alone and libcst parsing alone, on the same files.

    python benchmarks/bench.py DIR [--repeat N] [--skip-libcst] [--cache] [--json]

Phases: `ast.parse` and libcst parsing of every file; `dbleak check` without a cache (cold),
with the default workers (one per core) and with one worker (`DBLEAK_JOBS=1`: what the
issues' CPU bound is about; the two give the speed-up of the workers).
With ``--cache``, on a copy of DIR (DIR is only read): a warm run (nothing changed), a run after
one file was edited (a line appended), and that file passed alone (as pre-commit passes it),
each with the cache the run before left. With ``--json``, a cold check that also renders every
fix (what `--output-format json` pays). Each phase runs in its own subprocess so that its peak
memory is its own. Speed is measured here, never in a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _files(root: Path) -> list[Path]:
    from dbleak.discovery import discover
    from dbleak.settings import Settings

    settings = Settings(root=str(root), respect_gitignore=False)
    return [d.path for d in discover([root], lambda _p: settings)]


def _read(paths: list[Path]) -> list[tuple[Path, str]]:
    from dbleak.source import DecodeError, decode_source

    out = []
    for path in paths:
        try:
            out.append((path, decode_source(path.read_bytes()).text))
        except (OSError, DecodeError):
            continue
    return out


def phase(name: str, root: Path, repeat: int) -> dict[str, float]:
    sources = _read(_files(root))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        if name == "ast":
            import ast

            for path, text in sources:
                try:
                    ast.parse(text, filename=str(path))
                except SyntaxError:
                    pass
        elif name == "libcst":
            import libcst

            for path, text in sources:
                try:
                    libcst.parse_module(text)
                except Exception:
                    pass
        elif name in ("dbleak", "dbleak-1", "json"):
            from dbleak.api import RunOptions, check_paths
            from dbleak.settings import ConfigResolver

            resolver = ConfigResolver(isolated=True)
            options = RunOptions(build_fixes=name == "json")
            for _result in check_paths([root], resolver.for_path, options):
                pass
        elif name in ("warm", "touched", "alone"):
            best = min(best, _cached_run(name, root))
            continue
        else:
            raise SystemExit(f"unknown phase {name}")
        best = min(best, time.perf_counter() - start)
    lines = sum(text.count("\n") + 1 for _, text in sources)
    # dbleak checks in worker processes: the peak of the largest of them counts too.
    peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"seconds": best, "lines": lines, "files": len(sources), "peak_mib": peak_kib / 1024}


_COPIES: dict[Path, Path] = {}


def _cached_run(name: str, root: Path) -> float:
    """The seconds of one run with the cache, on a copy of ``root`` whose cache is filled."""
    from dbleak.api import RunOptions, check_paths
    from dbleak.cache import Cache
    from dbleak.settings import ConfigResolver

    copy = _COPIES.get(root)
    resolver = ConfigResolver(isolated=True)
    if copy is None:
        copy = Path(tempfile.mkdtemp(prefix="dbleak-bench-")) / root.name
        shutil.copytree(root, copy, symlinks=True)
        # Dated a minute back, as a tree nobody is writing: a run that reads a file written in
        # the two seconds before it leaves no record of itself (dbleak.run_record).
        (copy.parent / "cache").mkdir()
        then = time.time() - 60
        for folder, _subfolders, names in os.walk(copy.parent):
            for entry in names:
                os.utime(os.path.join(folder, entry), (then, then), follow_symlinks=False)
            os.utime(folder, (then, then))
        _COPIES[root] = copy
        for _result in check_paths([copy], resolver.for_path,
                                   RunOptions(cache=Cache(copy.parent / "cache"))):
            pass
    files = sorted(_files(copy))
    edited = files[len(files) // 2]
    if name != "warm":
        with open(edited, "a", encoding="utf-8") as handle:
            handle.write(f"\n# edited {time.time()}\n")
    start = time.perf_counter()
    for _result in check_paths([edited] if name == "alone" else [copy], resolver.for_path,
                               RunOptions(cache=Cache(copy.parent / "cache"))):
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="runs per phase; the best counts")
    parser.add_argument("--skip-libcst", action="store_true", help="libcst parsing is slow on big trees")
    parser.add_argument("--cache", action="store_true",
                        help="also time warm runs with the cache (on a copy of ROOT)")
    parser.add_argument("--json", action="store_true",
                        help="also time a check that renders every fix (as JSON output does)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        try:
            print(json.dumps(phase(args.phase, args.root, args.repeat)))
        finally:
            for copy in _COPIES.values():
                shutil.rmtree(copy.parent, ignore_errors=True)
        return
    phases = (["ast", "dbleak", "dbleak-1"] + (["json"] if args.json else [])
              + (["warm", "touched", "alone"] if args.cache else [])
              + ([] if args.skip_libcst else ["libcst"]))
    results: dict[str, dict[str, float]] = {}
    for name in phases:
        workers = {"DBLEAK_JOBS": "1"} if name == "dbleak-1" else {}
        run = subprocess.run([sys.executable, __file__, str(args.root), "--phase", name,
                              "--repeat", str(args.repeat)], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": "0", **workers})
        if run.returncode != 0:
            raise SystemExit(f"phase {name} failed:\n{run.stderr}")
        results[name] = json.loads(run.stdout.strip().splitlines()[-1])
    first = results["ast"]
    print(f"tree: {args.root}  files: {first['files']:,}  lines: {first['lines']:,}")
    print(f"{'phase':<14}{'seconds':>10}{'lines/s':>14}{'peak MiB':>11}")  # lines/s: of the tree
    for name in phases:
        r = results[name]
        label = {"ast": "ast.parse", "libcst": "libcst parse", "dbleak": "dbleak check",
                 "dbleak-1": "  1 worker",
                 "json": "check + fixes", "warm": "warm", "touched": "1 file edited",
                 "alone": "1 file alone"}[name]
        print(f"{label:<14}{r['seconds']:>10.2f}{r['lines'] / r['seconds']:>14,.0f}"
              f"{r['peak_mib']:>11.0f}  {r['seconds'] / results['ast']['seconds']:>6.2f}x ast")
    dbleak = results["dbleak"]["seconds"]
    print(f"dbleak / ast-parse:    {dbleak / results['ast']['seconds']:.2f}x")
    one = results["dbleak-1"]["seconds"]
    print(f"1 worker / ast-parse:  {one / results['ast']['seconds']:.2f}x")
    print(f"workers' speed-up:     {one / dbleak:.2f}x")
    if "libcst" in results:
        print(f"dbleak / libcst-parse: {dbleak / results['libcst']['seconds']:.2f}x")
        print(f"1 worker / libcst:     {one / results['libcst']['seconds']:.2f}x")
    if "json" in results:
        print(f"check + fixes / check: {results['json']['seconds'] / dbleak:.2f}x")


if __name__ == "__main__":
    main()
