"""Reading rule fixtures: source files with the expected findings marked inline.

A fixture is ``tests/fixtures/<CODE>/<name>.py``. A line ending in ``# error: DBL104`` (several
codes: ``# error: DBL101, DBL103``) must get exactly those findings, and no other line any.
Siblings: ``<name>.fixed.py`` is the expected text after ``--fix`` (safe fixes) and
``<name>.unsafe-fixed.py`` after ``--fix --unsafe-fixes`` where that differs. A fixture with no
``.fixed.py`` must come out of ``--fix`` unchanged.
A first line ``# config: {...}`` (JSON) sets `[tool.dbleak]` options for the fixture.
A sub-folder of a rule folder is a *project*: all its modules are checked together (the project
index sees them all), with the same markers and siblings per module.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
_MARK = re.compile(r"#\s*error:\s*(?P<codes>DBL[0-9]{3}(?:\s*,\s*DBL[0-9]{3})*)\s*$")
_CONFIG = re.compile(r"^#\s*config:\s*(?P<json>\{.*\})\s*$")


@dataclass(frozen=True)
class Fixture:
    code: str
    path: Path
    project: Path | None = None  # the project folder, for multi-module fixtures

    @property
    def id(self) -> str:
        return str(self.path.relative_to(FIXTURES))

    @property
    def fixed_path(self) -> Path:
        return self.path.with_name(self.path.name[:-3] + ".fixed.py")

    @property
    def unsafe_fixed_path(self) -> Path:
        return self.path.with_name(self.path.name[:-3] + ".unsafe-fixed.py")


def is_fixture_source(path: Path) -> bool:
    return path.suffix == ".py" and not path.name.endswith((".fixed.py", ".unsafe-fixed.py"))


def all_fixtures() -> list[Fixture]:
    found: list[Fixture] = []
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        code = folder.name
        for path in sorted(folder.iterdir()):
            if path.is_dir():
                for module in sorted(path.rglob("*.py")):
                    if is_fixture_source(module):
                        found.append(Fixture(code, module, project=path))
            elif is_fixture_source(path):
                found.append(Fixture(code, path))
    return found


def expected_findings(text: str) -> set[tuple[int, str]]:
    expected: set[tuple[int, str]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = _MARK.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group("codes")):
                expected.add((number, code))
    return expected


def fixture_config(text: str) -> dict[str, object]:
    first = text.split("\n", 1)[0]
    match = _CONFIG.match(first)
    return json.loads(match.group("json")) if match else {}
