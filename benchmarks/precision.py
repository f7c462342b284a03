"""Precision of a corpus run, from the verdicts recorded in ``benchmarks/corpus-review.md``.

    python benchmarks/corpus.py --set holdout4 --select DBL2 --json > run.json
    python benchmarks/precision.py run.json [--family DBL2|DBL1|DBL3] [--show unjudged|fp|tp]

Every review table of the family's section (``## DBL2xx`` or ``## DBL1xx``: a header row naming
``package``, ``file:line`` and ``verdict``) is read; a finding of the run is matched by package
and ``path:line`` (a column and backticks in the table are ignored). Findings
no review judged are counted apart: judge them, and add them to the review, before quoting a
figure. Data migrations (``migrations/``, Alembic ``versions/``, Trac ``upgrades/``) are shown
apart, as in the reviews.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

REVIEW = Path(__file__).resolve().parent / "corpus-review.md"
_MIGRATION_PARTS = ("migrations/", "/versions/", "upgrades/")


def verdicts(text: str, family: str = "DBL2") -> dict[tuple[str, str], dict[str, str]]:
    """``(package, path:line) -> row`` for every judged finding of the family's section."""
    start = text.index(f"## {family}xx")
    end = text.index("\n## ", start + 1)
    found: dict[tuple[str, str], dict[str, str]] = {}
    header: list[str] | None = None
    for line in text[start:end].splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(cells) <= {"---", ""} or "verdict" not in header or "package" not in header:
            continue
        row = dict(zip(header, cells))
        if row.get("verdict") in ("TP", "FP") and row.get("code", "").startswith(family):
            where = row["file:line"].strip("`")
            parts = where.rsplit(":", 2)
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                where = f"{parts[0]}:{parts[1]}"  # `path:line:col`
            found[(row["package"], where)] = row  # a later review wins
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("run", type=Path, help="the JSON that `corpus.py --json` printed")
    parser.add_argument("--show", choices=("unjudged", "fp", "tp"), help="list those findings")
    parser.add_argument("--family", choices=("DBL1", "DBL2", "DBL3"), default="DBL2")
    args = parser.parse_args(argv)
    judged = verdicts(REVIEW.read_text(encoding="utf-8"), args.family)
    counts: Counter[str] = Counter()
    split: Counter[tuple[bool, str]] = Counter()
    categories: Counter[str] = Counter()
    shown: list[str] = []
    for finding in json.loads(args.run.read_text(encoding="utf-8")):
        if not str(finding.get("code", "")).startswith(args.family):
            continue
        path = str(finding["path"]).split("/", 1)[1] if "/" in str(finding["path"]) else ""
        key = (str(finding["package"]), f"{path}:{finding['line']}")
        row = judged.get(key)
        verdict = row["verdict"] if row else "unjudged"
        counts[verdict] += 1
        migration = any(part in path for part in _MIGRATION_PARTS)
        split[(migration, verdict)] += 1
        if row and verdict == "FP":
            categories[row.get("fp category") or row.get("category") or "-"] += 1
        if args.show and verdict.lower() == args.show:
            shown.append(f"{key[0]}  {key[1]}  {finding['code']}  "
                         f"{(row or {}).get('why', finding.get('message', ''))}")
    tp, fp = counts["TP"], counts["FP"]
    total = tp + fp
    print(f"{total + counts['unjudged']} findings: {tp} TP, {fp} FP, "
          f"{counts['unjudged']} not judged by any review")
    if total:
        print(f"precision {tp / total:.1%} of the judged")
    for migration, label in ((True, "data migrations"), (False, "everything else")):
        t, f = split[(migration, "TP")], split[(migration, "FP")]
        if t + f:
            print(f"  {label}: {t} / {t + f} = {t / (t + f):.1%}")
    if categories:
        print("  FP by category: " + ", ".join(f"{c} {n}" for c, n in categories.most_common()))
    for line in shown:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
