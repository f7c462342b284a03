"""The project summaries: what each rule family records of a module's functions, for the index.

Each rule family contributes a *summarizer*: a function of one module's facts that returns
summaries for the functions it defines (``{qualname: {key: value}}``). The project index
(:mod:`dbleak.index`, re-exported here) merges them.
Summarizers must be cheap: they run on every module of the run, on the same ``ast`` tree the
rules will later use (the runner parses once and keeps the tree for the checking pass).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from dbleak.analysis.module import ModuleFacts, collect_facts
from dbleak.analysis.salvage import summary_tree
from dbleak.index import (
    EMPTY_INDEX,
    FunctionSummary,
    ModuleFinder,
    ProjectIndex,
    Read,
    SummaryStore,
    import_roots,
    module_name_for,
    package_parts,
    value_digest,
)
from dbleak.knowledge.drivers import DriverTable
from dbleak.source import DecodeError, decode_source

Summarizer = Callable[[ModuleFacts], Mapping[str, Mapping[str, Any]]]

# Registered by the analyses that define them, when imported (the rule families import them).
SUMMARIZERS: list[Summarizer] = []
# Those analyses, in the order the rules import them (``dbleak.rules``): a module summarized
# before any rule is imported (a warm run that meets a module the cache does not hold, the
# first pass of a run) imports them first. tests/test_registry.py checks the list is whole.
SUMMARIZER_MODULES = (
    "dbleak.analysis.lifecycle_summary",
    "dbleak.analysis.fetch_summary",
    "dbleak.analysis.model_relations",
    "dbleak.analysis.rows_summary",
    "dbleak.analysis.generator_summary",
)
_summarizers_loaded = False


def load_summarizers() -> list[Summarizer]:
    """Every summarizer, registered (their modules imported) if they were not yet."""
    global _summarizers_loaded
    if not _summarizers_loaded:
        for name in SUMMARIZER_MODULES:
            importlib.import_module(name)
        _summarizers_loaded = True
    return SUMMARIZERS


def summarize_module(facts: ModuleFacts) -> dict[str, dict[str, Any]]:
    """Every summarizer's facts about the functions of one module (plain, picklable data)."""
    merged: dict[str, dict[str, Any]] = {}
    for summarize in load_summarizers():
        for qualname, values in summarize(facts).items():
            merged.setdefault(qualname, {}).update(values)
    return merged


def summarize_source(data: bytes, path: str, module: str, is_package: bool,
                     drivers: DriverTable) -> dict[str, dict[str, Any]] | None:
    """The summaries of a module read from disk (``data``: its bytes); None when it does not
    decode or no tree can be made of it."""
    try:
        tree = summary_tree(decode_source(data).text, path)
    except (DecodeError, SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if tree is None:
        return None
    return summarize_tree(tree, module, is_package, drivers)


def summarize_tree(tree: ast.Module, module: str, is_package: bool,
                   drivers: DriverTable) -> dict[str, dict[str, Any]]:
    """The summaries of a module's tree, its facts released after (the analyses' caches refer
    back to the facts: a cycle the paused collector would keep, with the tree)."""
    facts = collect_facts(tree, drivers, module, is_package)
    try:
        return summarize_module(facts)
    finally:
        facts.release()


def module_functions(facts: ModuleFacts) -> Mapping[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Top-level functions and methods of top-level classes, by qualified name (made once per
    module's facts: the summarizers and the call-site lookups each ask)."""
    found = facts.__dict__.get("_dbleak_module_functions")
    if found is None:
        found = facts.__dict__["_dbleak_module_functions"] = _module_functions(facts)
    return found


def _module_functions(facts: ModuleFacts) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
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


__all__ = [
    "EMPTY_INDEX",
    "SUMMARIZERS",
    "SUMMARIZER_MODULES",
    "FunctionSummary",
    "ModuleFinder",
    "ProjectIndex",
    "Read",
    "Summarizer",
    "SummaryStore",
    "import_roots",
    "load_summarizers",
    "module_functions",
    "module_name_for",
    "package_parts",
    "summarize_module",
    "summarize_source",
    "summarize_tree",
    "value_digest",
]
