"""What a rule may read about one module: its text, tree, settings, the facts of one traversal,
the driver table and the project index. Below the rules: analysis code takes a context and never
imports a rule module.
"""

from __future__ import annotations

import ast
from functools import cached_property
from typing import Protocol

from dbleak.analysis.module import ModuleFacts, collect_facts, statement_header_lines
from dbleak.analysis.project import EMPTY_INDEX, ProjectIndex
from dbleak.index import is_package_path
from dbleak.knowledge.drivers import DriverTable, table_for
from dbleak.models import Finding, FixPlan, Position
from dbleak.settings import Settings
from dbleak.source import LineIndex


def _method_start(node: ast.AST) -> tuple[int, int]:
    """Where a finding starts: for a method call on a chain that spans lines
    (``session.query(M)\\n    .filter(...)\\n    .all()``), at the method's name on its own line,
    where editors show it and a ``# noqa`` is written; elsewhere at the node's start."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        func = node.func
        line, end = func.end_lineno, func.end_col_offset
        if line is not None and end is not None and line != node.lineno:
            return line, end - len(func.attr.encode("utf-8"))
    return node.lineno, node.col_offset  # type: ignore[attr-defined]


class RuleIdentity(Protocol):
    """What a finding needs to know of its rule (a rule class)."""

    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def message(self) -> str: ...


class CheckContext:
    """Everything a rule may read about one module. Facts are computed once, on first use."""

    def __init__(self, path: str, text: str, tree: ast.Module, settings: Settings,
                 module_name: str = "", project: ProjectIndex | None = None,
                 facts: ModuleFacts | None = None) -> None:
        self.path = path
        self.text = text
        self.tree = tree
        self.settings = settings
        self.module_name = module_name
        self.lines = LineIndex(text)
        # Functions of the other modules being checked (empty for a lone source text).
        self.project = project if project is not None else EMPTY_INDEX
        # Facts made here are this context's to release; facts given belong to the caller.
        self._owns_facts = facts is None
        if facts is not None:
            self.__dict__["facts"] = facts

    def release(self) -> None:
        """Drop what the analyses cached on this context (and on the facts it made).

        Some of them refer back to the context (a reference cycle), which with the cyclic
        collector paused during a run kept every checked tree alive. Call when the rules are
        done; the context stays usable (caches are made again on the next use).
        """
        facts = self.__dict__.get("facts")
        if self._owns_facts and isinstance(facts, ModuleFacts):
            facts.release()
        kept = ("path", "text", "tree", "settings", "module_name", "lines", "project",
                "_owns_facts")
        for key in [key for key in self.__dict__ if key not in kept]:
            if key != "facts" or self._owns_facts:
                del self.__dict__[key]

    @cached_property
    def drivers(self) -> DriverTable:
        return table_for(self.settings.drivers)

    @cached_property
    def facts(self) -> ModuleFacts:
        return collect_facts(self.tree, self.drivers, self.module_name, is_package_path(self.path))

    def position(self, line: int, byte_col: int) -> Position:
        return Position(line, self.lines.char_column(line, byte_col))

    def finding(self, rule: RuleIdentity, node: ast.AST, message: str | None = None,
                plan: FixPlan | None = None, stmt: ast.stmt | None = None) -> Finding:
        """A finding of ``rule`` at ``node``'s range; ``noqa`` counts on ``stmt``'s first/last line."""
        start = self.position(*_method_start(node))
        end_line = node.end_lineno or node.lineno  # type: ignore[attr-defined]
        end = self.position(end_line, node.end_col_offset or 0)  # type: ignore[attr-defined]
        if stmt is not None:
            first, last = statement_header_lines(stmt)
            noqa = tuple(sorted({first, last, start.line}))
        else:
            noqa = (start.line,)
        return Finding(
            code=rule.code, name=rule.name, message=message or rule.message, path=self.path,
            start=start, end=end, plan=plan, noqa_lines=noqa,
        )
