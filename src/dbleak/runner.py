"""Running a whole tree: the project-index pass, then checking each file with its tree kept.

Every file is parsed once. When a selected rule reads the project index, the first pass parses
each file, summarizes its functions into the index and keeps the tree (and its facts) for the
checking pass, up to a memory budget; past the budget a file is parsed again when checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dbleak.analysis.module import collect_facts
from dbleak.analysis.project import ProjectIndex
from dbleak.discovery import Discovered
from dbleak.engine import Parsed, active_rules, module_name_for, parse_module
from dbleak.knowledge.drivers import table_for
from dbleak.models import Finding
from dbleak.settings import Settings
from dbleak.source import DecodeError, decode_source

# Source characters whose trees are kept between the passes (~50x that in memory).
KEEP_BUDGET = 40_000_000


@dataclass
class Prepared:
    project: ProjectIndex = field(default_factory=ProjectIndex)
    parsed: dict[Path, tuple[bytes, Parsed]] = field(default_factory=dict)


def needs_project(items: Iterable[Discovered], settings_for: Callable[[Path], Settings]) -> bool:
    return any(rule.needs_project for item in items
               for rule in active_rules(item.display, settings_for(item.path)))


def prepare(items: list[Discovered], settings_for: Callable[[Path], Settings]) -> Prepared:
    """The first pass: build the project index, keeping parsed trees within the budget."""
    prepared = Prepared()
    kept = 0
    for item in items:
        settings = settings_for(item.path)
        try:
            data = item.path.read_bytes()
            text = decode_source(data).text
        except (OSError, DecodeError):
            continue  # reported by the checking pass
        tree = parse_module(text, item.display)
        if isinstance(tree, Finding):
            continue
        facts = collect_facts(tree, table_for(settings.drivers), module_name_for(item.display))
        prepared.project.add_module(facts)
        if kept + len(text) <= KEEP_BUDGET:
            kept += len(text)
            prepared.parsed[item.path] = (data, Parsed(tree, facts))
    return prepared
