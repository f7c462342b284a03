"""The rewrites DBL301–DBL305 offer, as text replacements over a module's source.

The site analysis (:mod:`dbleak.analysis.materialize`) knows exactly which ranges move; this
module turns a site into the text that replaces them: the loop over the lazy source itself,
``count()``/``first()`` forms, an ``async for``.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from dbleak.analysis.materialize import (
    SHORT_CIRCUIT,
    ListUseKind,
    MaterializationSite,
    SiteModule,
    SourceKind,
    materialization_sites,
)
from dbleak.analysis.module import (
    walk,
)
from dbleak.fixes.plan import ReplaceRange
from dbleak.models import Applicability, Position
from dbleak.source import LineIndex

# Comments that speak to a tool about their own line (type checkers, linters, coverage,
# formatters): moved to a line of their own, they would speak about nothing.
_PRAGMA = re.compile(r"#\s*(type|ty|pyright|mypy|pyre-\w+|pylint|noqa|nosec|pragma|fmt|isort|ruff)\b",
                     re.IGNORECASE)


def rewriter_for(ctx: Any) -> Rewriter:
    """A rewriter over the module ``ctx`` checks (after :func:`materialization_sites`)."""
    materialization_sites(ctx)
    module: SiteModule = ctx.__dict__["_materialization_module"]
    return Rewriter(ctx.text, ctx.lines, module.parents)


@dataclass(frozen=True)
class Rewrite:
    """The replacement operations of one fix, and how far it can be trusted."""

    operations: tuple[ReplaceRange, ...]
    applicability: Applicability


class Rewriter:
    """Builds text replacements for a site against the module's text."""

    def __init__(self, text: str, lines: LineIndex,
                 parents: dict[int, ast.AST] | None = None) -> None:
        self.text = text
        self.lines = lines
        self.parents = parents

    def start(self, node: ast.AST) -> Position:
        return Position(node.lineno, self.lines.char_column(node.lineno, node.col_offset))  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> Position:
        line = node.end_lineno or node.lineno  # type: ignore[attr-defined]
        return Position(line, self.lines.char_column(line, node.end_col_offset or 0))  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        # Not ast.get_source_segment: it splits the whole text on every call.
        start, end = self.start(node), self.end(node)
        begin = self.lines.offset(start.line, start.column)
        return self.text[begin:self.lines.offset(end.line, end.column)]

    def replace(self, node: ast.AST, content: str) -> ReplaceRange:
        return ReplaceRange(self.start(node), self.end(node), content)

    def source_text(self, node: ast.expr) -> str:
        """The text of ``node``, parenthesized when moving it could change how it parses."""
        text = self.segment(node)
        atomic = isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript,
                                   ast.GeneratorExp, ast.ListComp))
        if not atomic or ("\n" in text and not _stands_alone(text)):
            return f"({text})"
        return text

    def delete_statement(self, stmt: ast.stmt) -> ReplaceRange | None:
        """Remove the lines of a statement that stands alone on them (None: it shares a line or
        carries a comment that would be lost)."""
        first = self.lines.line_text(stmt.lineno)
        last_line = stmt.end_lineno or stmt.lineno
        last = self.lines.line_text(last_line)
        start_col = self.lines.char_column(stmt.lineno, stmt.col_offset)
        end_col = self.lines.char_column(last_line, stmt.end_col_offset or 0)
        if first[:start_col].strip():
            return None
        after = last[end_col:]
        if _PRAGMA.match(after.strip()):
            return None  # a type-checker or linter comment: alone on its line it would apply to nothing
        if after.strip().startswith("#"):
            # Keep the trailing comment, on its own line where the statement was.
            comment_col = end_col + len(after) - len(after.lstrip())
            return ReplaceRange(Position(stmt.lineno, start_col),
                                Position(last_line, comment_col), "")
        if after.strip():
            return None
        return ReplaceRange(Position(stmt.lineno, 0), Position(last_line + 1, 0), "")

    def async_for(self, loop: ast.For) -> ReplaceRange:
        start = self.start(loop)
        return ReplaceRange(start, Position(start.line, start.column + 3), "async for")

    def comprehension_parts(self, comp: ast.ListComp) -> str:
        """The text inside the brackets of a list comprehension."""
        text = self.segment(comp)
        return text[1:-1]


def lazy_text(rw: Rewriter, site: MaterializationSite) -> str | None:
    """The expression that walks the rows lazily, to put where the list was walked."""
    if site.comprehension is not None and not site.identity:
        return "(" + rw.comprehension_parts(site.comprehension) + ")"
    return rw.source_text(site.source.node)


def walk_rewrite(rw: Rewriter, site: MaterializationSite, safe: bool) -> Rewrite | None:
    """Walk the source where the list was walked: `for x in list(g)` → `for x in g`,
    `rows = list(g); for x in rows:` → `for x in g:`, `sum([...])` → `sum(...)`."""
    use = site.use
    if use.alternatives:
        return None
    operations: list[ReplaceRange] = []
    content = lazy_text(rw, site)
    if content is None:
        return None
    if site.source.is_async:
        if use.kind is not ListUseKind.LOOP or not isinstance(use.holder, ast.For) or (
                use.through is not None):
            return None
        operations.append(rw.async_for(use.holder))
    replaced = use.node if use.assignment is not None else site.node
    generator_text = (site.comprehension is not None and not site.identity) or isinstance(
        site.source.node, ast.GeneratorExp)
    if generator_text and _sole_argument(rw, replaced):
        content = content[1:-1]  # `sum((x for x in g))` reads better as `sum(x for x in g)`
    if use.assignment is not None:
        deletion = rw.delete_statement(use.assignment)
        if deletion is None:
            return None
        operations.append(deletion)
        operations.append(rw.replace(use.node, content))
    else:
        operations.append(rw.replace(site.node, content))
    if not safe or use.early_exit or use.gap_runs_code or use.body_calls_unknown:
        applicability = Applicability.UNSAFE
    else:
        applicability = Applicability.SAFE
    if use.kind is ListUseKind.CONSUMER and use.consumer in SHORT_CIRCUIT:
        # any()/all() stop at the first decisive row: later rows' side effects do not run.
        pure = site.source.kind is SourceKind.GENERATOR and isinstance(
            site.source.node, ast.GeneratorExp) and not any(
            isinstance(n, ast.Call) for n in walk(site.node))
        if not pure:
            applicability = Applicability.UNSAFE
    if site.comprehension is not None and not site.identity and any(
            isinstance(n, (ast.Call, ast.Await, ast.NamedExpr)) for n in walk(site.comprehension.elt)):
        applicability = Applicability.UNSAFE
    return Rewrite(tuple(operations), applicability)


def _sole_argument(rw: Rewriter, node: ast.expr) -> bool:
    parent = rw.parents.get(id(node)) if rw.parents is not None else None
    return isinstance(parent, ast.Call) and parent.args == [node] and not parent.keywords


def _stands_alone(text: str) -> bool:
    """Whether an expression spanning lines parses outside its brackets: ``f(\n  x)`` does,
    ``session.query(User)\n  .all()`` (a chain continued inside the caller's parentheses)
    does not."""
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def replace_use(rw: Rewriter, site: MaterializationSite, content: str,
                applicability: Applicability) -> Rewrite | None:
    """Replace the use's holder (the len() call, the [0] subscript) with ``content``; when the
    list went through a name, drop that assignment."""
    use = site.use
    if use.alternatives:
        return None
    operations: list[ReplaceRange] = []
    if use.assignment is not None:
        deletion = rw.delete_statement(use.assignment)
        if deletion is None:
            return None
        operations.append(deletion)
        if use.gap_runs_code:
            applicability = Applicability.UNSAFE
    operations.append(rw.replace(use.holder, content))
    return Rewrite(tuple(operations), applicability)


def count_text(rw: Rewriter, site: MaterializationSite) -> str | None:
    """`sum(1 for _ in g)` (or `sum(1 for x in g if p(x))` for a filtering comprehension)."""
    if site.source.is_async:
        return None
    comp = site.comprehension
    if comp is not None and not site.identity:
        generator = comp.generators[0]
        ifs = "".join(" if " + rw.segment(i) for i in generator.ifs)
        return (f"sum(1 for {rw.segment(generator.target)} in "
                f"{rw.source_text(generator.iter)}{ifs})")
    return f"sum(1 for _ in {rw.source_text(site.source.node)})"


def first_text(rw: Rewriter, site: MaterializationSite) -> str | None:
    """`next(iter(g))` (or `next(<generator expression>)` for a transforming comprehension)."""
    if site.source.is_async:
        return None
    if site.comprehension is not None and not site.identity:
        return "next(" + rw.comprehension_parts(site.comprehension) + ")"
    return f"next(iter({rw.source_text(site.source.node)}))"
