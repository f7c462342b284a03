"""Recall on real fix commits: does dbleak report the lines that maintainers later fixed?

    python benchmarks/recall/score.py [--split tune|holdout|all] [--family DBL1|DBL2|DBL3]
                                      [--mirrors DIR] [--misses] [--json OUT]
    python benchmarks/recall/score.py --check-labels [--family ...]

The labels are in ``benchmarks/recall/cases/*.toml`` (see README.md there); no third-party
code is committed. For each case the script extracts the repository's Python files at the
commit the label names (the fix's parent for a leak, the fix itself for a repaired line) from
a bare clone under ``--mirrors`` (``owner+name/repo``, as the tool library's fetch lays them
out, or ``owner+name.git``), checks the labelled file *alone* (as a pre-commit hook passes it:
a file's findings must not depend on which other files were passed) and counts:

- a **positive** (``kind = "leak"``) is *found* when a finding of the case's family (``DBL1``,
  ``DBL2``, ``DBL3``) starts on one of its lines (``line``..``end``, or one of ``also``);
- a **negative** (``kind = "repaired"``) is a *false alarm* when such a finding is there.

The split is by repository and fixed by its name (``sha256(repo)``, even → tune, odd →
holdout), so a held-out project is never looked at while tuning. Held-out figures are printed
only with ``--split holdout`` (or ``all``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
WORK = HERE / "_work"  # extracted trees (git-ignored)
DEFAULT_MIRRORS = Path(os.environ.get("DBLEAK_MIRRORS", "/work/.mirror"))
FAMILIES = ("DBL1", "DBL2", "DBL3")
KINDS = ("leak", "repaired")
FINDING = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>DBL\d{3})\b")


@dataclass
class Case:
    source: str  # the label file and index, for messages
    repo: str
    fix: str
    path: str
    line: int
    family: str
    kind: str
    category: str
    note: str
    end: int | None = None
    also: tuple[int, ...] = ()
    commit: str = ""  # the commit whose file is checked (resolved)
    lines: frozenset[int] = field(default_factory=frozenset)

    @property
    def split(self) -> str:
        return split_of(self.repo)

    @property
    def key(self) -> str:
        return f"{self.repo}@{self.fix[:10]}:{self.path}:{self.line} ({self.kind})"


def split_of(repo: str) -> str:
    digest = hashlib.sha256(repo.lower().encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "holdout"


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for file in sorted(CASES.glob("*.toml")):
        data = tomllib.loads(file.read_text(encoding="utf-8"))
        for index, raw in enumerate(data.get("case", [])):
            where = f"{file.name}#{index + 1}"
            try:
                case = Case(
                    source=where, repo=str(raw["repo"]), fix=str(raw["fix"]), path=str(raw["path"]),
                    line=int(raw["line"]), family=str(raw["family"]), kind=str(raw["kind"]),
                    category=str(raw.get("category", "")), note=str(raw.get("note", "")),
                    end=int(raw["end"]) if "end" in raw else None,
                    also=tuple(int(x) for x in raw.get("also", ())),
                )
            except (KeyError, TypeError, ValueError) as error:
                raise SystemExit(f"{where}: bad case: {error!r}") from None
            if case.family not in FAMILIES or case.kind not in KINDS:
                raise SystemExit(f"{where}: family must be one of {FAMILIES}, kind one of {KINDS}")
            last = case.end if case.end is not None else case.line
            case.lines = frozenset(range(case.line, last + 1)) | frozenset(case.also)
            cases.append(case)
    return cases


def git_dir(mirrors: Path, repo: str) -> Path | None:
    owner_name = repo.replace("/", "+")
    for candidate in (mirrors / owner_name / "repo", mirrors / owner_name / "repo" / ".git",
                      mirrors / f"{owner_name}.git", mirrors / owner_name):
        if (candidate / "HEAD").is_file():
            return candidate
    return None


def git(gitdir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], check=True,
                          capture_output=True).stdout


def resolve_commit(gitdir: Path, case: Case) -> str:
    ref = f"{case.fix}^1" if case.kind == "leak" else case.fix
    return git(gitdir, "rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()


# Besides the Python files: what marks a project's root, as in a checkout (where imports are
# looked up from).
_PROJECT_FILES = (b"pyproject.toml", b"setup.cfg", b"galaxy.yml")


def extract(gitdir: Path, repo: str, commit: str) -> Path:
    """The repository's Python files (and its project files: ``pyproject.toml``, ``setup.cfg``,
    ``galaxy.yml``) at ``commit``,
    unpacked once under ``_work`` (with a ``.git`` folder at the top, as a checkout has).

    Read blob by blob (``ls-tree`` + ``cat-file --batch``), not with ``git archive``, which
    honours the tree's ``export-ignore`` attributes (a repository may export nothing)."""
    target = WORK / f"{repo.replace('/', '+')}@{commit[:12]}"
    done = target / ".extracted"
    if done.exists():
        return target
    listing = git(gitdir, "ls-tree", "-r", "-z", commit).split(b"\0")
    blobs: list[tuple[str, str]] = []
    for entry in listing:
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000" and (
                name.endswith(b".py") or name.rsplit(b"/", 1)[-1] in _PROJECT_FILES):
            blobs.append((sha.decode(), name.decode("utf-8", "surrogateescape")))
    request = "".join(f"{sha}\n" for sha, _ in blobs).encode()
    out = subprocess.run(["git", f"--git-dir={gitdir}", "cat-file", "--batch"], input=request,
                         check=True, capture_output=True).stdout
    position = 0
    for _sha, name in blobs:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()
        position = header_end + 1
        if len(header) < 3 or header[1] != b"blob":
            continue  # missing in the mirror
        size = int(header[2])
        data = out[position:position + size]
        position += size + 1
        path = target / name
        if ".." in Path(name).parts:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (target / ".git").mkdir(parents=True, exist_ok=True)
    done.write_text(commit)
    return target


# `--config KEY=VALUE` options given to every dbleak run (to measure a default's other side).
OVERRIDES: list[str] = []


def run_dbleak(tree: Path, path: str, select: str = ",".join(FAMILIES)) -> list[tuple[int, str]]:
    """(line, code) of every finding in ``path`` (checked alone, no configuration but
    ``OVERRIDES``)."""
    overrides = [arg for option in OVERRIDES for arg in ("--config", option)]
    proc = subprocess.run(
        [sys.executable, "-m", "dbleak", "check", "--isolated", "--no-cache", "--exit-zero",
         "--output-format", "concise", "--select", f"DBL001,{select}", *overrides, path],
        check=False, cwd=tree, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"},
    )
    if proc.returncode != 0:  # `--exit-zero`: anything else is dbleak failing (or not installed)
        raise RuntimeError(f"dbleak failed on {tree / path}: {proc.stderr.strip()[-500:]}")
    found = []
    for line in proc.stdout.splitlines():
        match = FINDING.match(line)
        if match:
            found.append((int(match.group("line")), match.group("code")))
    return found


def file_lines(tree: Path, path: str) -> list[str]:
    return (tree / path).read_text(encoding="utf-8", errors="replace").splitlines()


def check_labels(cases: list[Case], mirrors: Path) -> int:
    """Print each labelled line as the commit holds it; no dbleak run."""
    problems = 0
    for case in cases:
        gitdir = git_dir(mirrors, case.repo)
        if gitdir is None:
            print(f"{case.source}: {case.repo}: no clone under {mirrors}")
            problems += 1
            continue
        try:
            commit = resolve_commit(gitdir, case)
            text = git(gitdir, "show", f"{commit}:{case.path}").decode("utf-8", "replace").splitlines()
        except subprocess.CalledProcessError as error:
            print(f"{case.source}: {case.key}: {error.stderr.decode().strip()}")
            problems += 1
            continue
        bad = [n for n in case.lines if not 1 <= n <= len(text)]
        if bad:
            print(f"{case.source}: {case.key}: line(s) {sorted(bad)} outside the file ({len(text)} lines)")
            problems += 1
            continue
        print(f"{case.source} [{case.split}] {case.key} {case.family}/{case.category}")
        for n in sorted(case.lines):
            print(f"    {n:5}: {text[n - 1]}")
    print(f"{len(cases)} cases, {problems} problems")
    return 1 if problems else 0


def score(cases: list[Case], mirrors: Path) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    by_file: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for case in cases:
        gitdir = git_dir(mirrors, case.repo)
        if gitdir is None:
            results.append({"case": case, "status": "missing-clone"})
            continue
        try:
            commit = resolve_commit(gitdir, case)
        except subprocess.CalledProcessError:
            results.append({"case": case, "status": "missing-commit"})
            continue
        key = (case.repo, commit, case.path)
        if key not in by_file:
            tree = extract(gitdir, case.repo, commit)
            by_file[key] = run_dbleak(tree, case.path)
        findings = by_file[key]
        if any(code == "DBL001" for _line, code in findings):
            # Python 2, or a newer grammar: a Python 3 analyzer cannot read the file at all.
            results.append({"case": case, "status": "unparsable"})
            continue
        hits = sorted({(line, code) for line, code in findings
                       if line in case.lines and code.startswith(case.family)})
        results.append({"case": case, "status": "hit" if hits else "miss", "hits": hits})
    return results


def summarize(results: list[dict[str, object]], show_misses: bool) -> None:
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for result in results:
        case = result["case"]
        assert isinstance(case, Case)
        if result["status"] not in ("hit", "miss"):
            print(f"skipped ({result['status']}): {case.key}")
            continue
        hit = result["status"] == "hit"
        for category in (case.category, "*"):
            group = groups[(case.family, case.kind, category)]
            group[0] += hit
            group[1] += 1
    for family in FAMILIES:
        for kind, word in (("leak", "recall"), ("repaired", "false alarms")):
            total = groups.get((family, kind, "*"))
            if not total:
                continue
            print(f"{family} {word}: {total[0]}/{total[1]} = {100 * total[0] / total[1]:.1f} %")
            for (fam, knd, category), (hit, count) in sorted(groups.items()):
                if fam == family and knd == kind and category != "*":
                    print(f"    {category or '-':28} {hit}/{count}")
    if show_misses:
        print("\nMissed leaks and false alarms:")
        for result in results:
            case = result["case"]
            assert isinstance(case, Case)
            if (case.kind == "leak") == (result["status"] == "miss"):
                print(f"  {case.family} {case.kind:8} {case.key}  [{case.category}] {case.note}")


CENSUS = HERE / "census.toml"
CORPUS = HERE.parent / "corpus"


def census(show: bool) -> int:
    """Recall on the site census: each site's file checked alone, as a pre-commit hook would."""
    sites = tomllib.loads(CENSUS.read_text(encoding="utf-8")).get("site", [])
    by_file: dict[tuple[str, str], list[tuple[int, str]]] = {}
    groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    listed: list[str] = []
    for site in sites:
        package, path, line = str(site["package"]), str(site["path"]), int(site["line"])
        verdict, kind = str(site["verdict"]), str(site.get("object", ""))
        root = CORPUS / package
        if not root.is_dir():
            raise SystemExit(f"{package}: not unpacked (benchmarks/corpus.py --download-only --package NAME)")
        key = (package, path)
        if key not in by_file:
            by_file[key] = run_dbleak(root, path, select="DBL1")
        lines = set(range(line, int(site.get("end", line)) + 1))
        reported = any(at in lines and code.startswith("DBL1") for at, code in by_file[key])
        for group in (("*", verdict), (kind, verdict), (package, verdict)):
            groups[group][0] += reported
            groups[group][1] += 1
        if show and reported != (verdict == "leak"):
            word = "missed" if verdict == "leak" else "reported"
            listed.append(f"  {word:8} {package}/{path}:{line} [{kind}, {site.get('shape', '')}] {site.get('note', '')}")
    for verdict, word in (("leak", "census recall"), ("ok", "reported though judged ok")):
        hit, total = groups.get(("*", verdict), [0, 0])
        if total:
            print(f"{word}: {hit}/{total} = {100 * hit / total:.1f} %")
            for (name, v), (h, t) in sorted(groups.items()):
                if v == verdict and name != "*":
                    print(f"    {name:28} {h}/{t}")
    if listed:
        print("\n".join(["", "Missed leaks and sites reported though judged ok:", *listed]))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "holdout", "all"), default="tune")
    parser.add_argument("--family", choices=FAMILIES, action="append")
    parser.add_argument("--repo", action="append", help="only the cases of this owner/name")
    parser.add_argument("--round", action="append", metavar="FILE",
                        help="only the cases of this file of cases/ (e.g. round4.toml); repeatable")
    parser.add_argument("--not-round", action="append", metavar="FILE",
                        help="leave out the cases of this file (a round not to be read yet)")
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS)
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help='a dbleak option for every run, e.g. \'sql.per-parent = "report"\' '
                             "(to measure what a default keeps off)")
    parser.add_argument("--check-labels", action="store_true",
                        help="print every labelled line at its commit; dbleak is not run")
    parser.add_argument("--misses", action="store_true", help="list the missed leaks and the false alarms")
    parser.add_argument("--json", type=Path, help="write every case's result to this file")
    parser.add_argument("--census", action="store_true",
                        help="score the site census (census.toml) instead of the fix commits")
    args = parser.parse_args(argv)
    OVERRIDES[:] = args.config
    if args.census:
        return census(args.misses)
    cases = load_cases()
    if args.round:
        cases = [c for c in cases if c.source.split("#")[0] in args.round]
    if args.not_round:
        cases = [c for c in cases if c.source.split("#")[0] not in args.not_round]
    if args.family:
        cases = [c for c in cases if c.family in args.family]
    if args.repo:
        cases = [c for c in cases if c.repo in args.repo]
    if args.split != "all":
        cases = [c for c in cases if c.split == args.split]
    if args.check_labels:
        return check_labels(cases, args.mirrors)
    results = score(cases, args.mirrors)
    summarize(results, args.misses)
    if args.json:
        rows = [{"source": r["case"].source, "repo": r["case"].repo, "fix": r["case"].fix,  # type: ignore[attr-defined]
                 "path": r["case"].path, "line": r["case"].line, "family": r["case"].family,  # type: ignore[attr-defined]
                 "kind": r["case"].kind, "category": r["case"].category,  # type: ignore[attr-defined]
                 "split": r["case"].split, "status": r["status"], "hits": r.get("hits", [])}  # type: ignore[attr-defined]
                for r in results]
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
