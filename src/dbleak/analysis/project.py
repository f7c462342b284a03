"""The project index: what the functions of the checked modules do, across modules.

Built in a cheap first pass over every module being checked (before any rule runs), so that
``conn = get_db()`` in one file is known to create a connection defined in another.

Each rule family contributes a *summarizer*: a function of one module's facts that returns
summaries for the functions it defines (``{qualname: {key: value}}``). The index merges them.
Summarizers must be cheap: they run on every module of the run, on the same ``ast`` tree the
rules will later use (the runner parses once and keeps the tree for the checking pass).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dbleak.analysis.module import ModuleFacts

Summarizer = Callable[[ModuleFacts], Mapping[str, Mapping[str, Any]]]

# Registered by the rule families at import time (see ``dbleak.rules.__init__``).
SUMMARIZERS: list[Summarizer] = []


@dataclass(frozen=True)
class FunctionSummary:
    qualname: str
    facts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, key: str, default: Any = None) -> Any:
        return self.facts.get(key, default)


@dataclass
class ProjectIndex:
    """Function summaries by qualified name (``package.module.function``, ``module.Class.method``)."""

    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    # Unions of one summary key over every entry, made when first asked for (see union_of).
    _unions: dict[str, frozenset[Any]] = field(default_factory=dict, repr=False, compare=False)

    def add_module(self, facts: ModuleFacts) -> None:
        self.add_summaries(summarize_module(facts))

    def add_summaries(self, merged: Mapping[str, Mapping[str, Any]]) -> None:
        """Merge one module's summaries (as :func:`summarize_module` makes them)."""
        if merged:
            self._unions.clear()
        for qualname, values in merged.items():
            previous = self.functions.get(qualname)
            if previous is not None:
                values = {**previous.facts, **values}
            self.functions[qualname] = FunctionSummary(qualname, MappingProxyType(values))

    def union_of(self, key: str) -> frozenset[Any]:
        """Every value listed under ``key`` by any entry (e.g. all relation field names)."""
        cached = self._unions.get(key)
        if cached is None:
            cached = frozenset(value for summary in self.functions.values()
                               for value in summary.facts.get(key, ()))
            self._unions[key] = cached
        return cached

    def get(self, qualname: str | None) -> FunctionSummary | None:
        if qualname is None:
            return None
        return self.functions.get(qualname)


def summarize_module(facts: ModuleFacts) -> dict[str, dict[str, Any]]:
    """Every summarizer's facts about the functions of one module (plain, picklable data)."""
    merged: dict[str, dict[str, Any]] = {}
    for summarize in SUMMARIZERS:
        for qualname, values in summarize(facts).items():
            merged.setdefault(qualname, {}).update(values)
    return merged


EMPTY_INDEX = ProjectIndex()


def module_functions(facts: ModuleFacts) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Top-level functions and methods of top-level classes, by qualified name."""
    prefix = f"{facts.module_name}." if facts.module_name else ""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in facts.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[prefix + node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{prefix}{node.name}.{item.name}"] = item
    return found
