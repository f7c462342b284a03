"""Render fix plans with libcst, so comments and formatting survive, and turn them into edits."""

from __future__ import annotations

import ast
import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from dataclasses import replace as dc_replace
from functools import lru_cache
from itertools import pairwise
from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState  # what Module.code_for_node renders with
from libcst.metadata import MetadataWrapper, PositionProvider

from dbleak.fixes.plan import AddImport, ReplaceRange, WrapWithItem
from dbleak.models import Edit, Fix, FixPlan, Position
from dbleak.source import LineIndex


class RenderError(Exception):
    """The plan does not fit the source (it changed, or the shape is unexpected)."""


def contains_any(visitor: cst.MetadataDependent, node: cst.CSTNode,
                 targets: Iterable[tuple[int, int]]) -> bool:
    """Whether ``node``'s source range contains one of the (line, column) ``targets``."""
    try:
        code_range = visitor.get_metadata(PositionProvider, node)
    except KeyError:
        return True
    start = (code_range.start.line, code_range.start.column)
    end = (code_range.end.line, code_range.end.column)
    return any(start <= target <= end for target in targets)


class _WrapWithItems(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, operations: Sequence[WrapWithItem]) -> None:
        super().__init__()
        self.pending = {(op.with_start.line, op.with_start.column): op for op in operations}
        self.done = 0

    def on_visit(self, node: cst.CSTNode) -> bool:
        # Only descend into nodes that contain a planned statement: a fix touches one place,
        # and visiting the whole module for each one was most of the cost of rendering.
        return contains_any(self, node, self.pending)

    def leave_With(self, original: cst.With, updated: cst.With) -> cst.With:
        pos = self.get_metadata(PositionProvider, original).start
        op = self.pending.get((pos.line, pos.column))
        if op is None:
            return updated
        items = list(updated.items)
        if op.item_index >= len(items):
            raise RenderError("the with statement has fewer items than planned")
        item = items[op.item_index]
        wrapped = cst.Call(func=cst.parse_expression(op.wrapper), args=[cst.Arg(item.item)])
        asname = cst.AsName(name=cst.Name(op.name))
        if item.asname is not None:
            asname = item.asname.with_changes(name=cst.Name(op.name))
        inner = cst.WithItem(item=cst.Name(op.name), comma=item.comma)
        outer = item.with_changes(
            item=wrapped, asname=asname,
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
        )
        items[op.item_index: op.item_index + 1] = [outer, inner] if op.keep_inner_with else [
            outer.with_changes(comma=item.comma)]
        self.done += 1
        return updated.with_changes(items=items)


def _has_import(module: cst.Module, op: AddImport) -> bool:
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if op.name is None and isinstance(small, cst.Import) and any(
                alias.evaluated_name == op.module and alias.asname is None for alias in small.names
            ):
                return True
            if op.name is not None and isinstance(small, cst.ImportFrom) and small.module is not None:
                if cst.helpers.get_full_name_for_node(small.module) != op.module or small.relative:
                    continue
                if isinstance(small.names, cst.ImportStar):
                    continue
                if any(alias.evaluated_name == op.name and alias.asname is None for alias in small.names):
                    return True
    return False


def _add_import(module: cst.Module, op: AddImport) -> cst.Module:
    if _has_import(module, op):
        return module
    if op.name is None:
        new = cst.parse_statement(f"import {op.module}\n", config=module.config_for_parsing)
    else:
        new = cst.parse_statement(f"from {op.module} import {op.name}\n",
                                  config=module.config_for_parsing)
    body = list(module.body)
    # After the docstring, `from __future__` imports and the leading import block.
    index = 0
    if body and _is_docstring(body[0]):
        index = 1
    last_import = None
    for i in range(index, len(body)):
        stmt = body[i]
        if isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
        ):
            last_import = i
            continue
        break
    insert_at = last_import + 1 if last_import is not None else index
    if insert_at == 0 and body:
        # Keep a leading comment block (shebang, license) above the import.
        first = body[0]
        new = new.with_changes(leading_lines=())
        if first.leading_lines:
            body[0] = first.with_changes(leading_lines=())
            new = new.with_changes(leading_lines=first.leading_lines)
    body.insert(insert_at, new)
    if insert_at == 0 and len(body) > 1 and last_import is None:
        body[1] = body[1].with_changes(leading_lines=[cst.EmptyLine(), *body[1].leading_lines])
    if module.header and insert_at == 0:
        return module.with_changes(body=body)
    return module.with_changes(body=body)


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
            and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


@lru_cache(maxsize=4)
def parsed_module(text: str) -> cst.Module:
    """libcst's tree of ``text``, parsed once for all the fixes of a file (trees are immutable)."""
    return cst.parse_module(text)


_WRAPPERS: dict[int, tuple[cst.Module, MetadataWrapper]] = {}


def position_wrapper(module: cst.Module) -> MetadataWrapper:
    """A metadata wrapper of ``module`` whose positions are computed once and shared by renderers."""
    cached = _WRAPPERS.get(id(module))
    if cached is not None and cached[0] is module:
        return cached[1]
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    if len(_WRAPPERS) > 8:
        _WRAPPERS.clear()
    _WRAPPERS[id(module)] = (module, wrapper)
    return wrapper


# Renderers of further operation types, registered by the family modules of this package
# (``RENDERERS[OpType] = function(module, [ops]) -> module``). Loaded on first use.
RENDERERS: dict[type, Callable[[cst.Module, list[Any]], cst.Module]] = {}
_loaded = False


def _load_renderers() -> None:
    global _loaded
    if _loaded:
        return
    import dbleak.fixes as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("plan", "render") and not info.name.startswith("plan_"):
            importlib.import_module(f"dbleak.fixes.{info.name}")
    _loaded = True


def render_source(text: str, plan: FixPlan) -> str:
    """The whole source with ``plan`` applied.

    Order: text range replacements, registered family operations, `with`-item wraps, imports.
    """
    if not plan.operations:
        return text  # a plan that only says what to do (display-only): nothing to render
    ranges = [op for op in plan.operations if isinstance(op, ReplaceRange)]
    if ranges:
        text = _with_ranges(text, ranges)
        if len(ranges) == len(plan.operations):
            # Text edits alone (DBL305's `fetchall()` → the cursor, DBL203's `.iterator()`):
            # libcst would parse the window and print it back unchanged (a large class's was
            # the slowest fix of a run, 91 ms). `ast` says whether the edit broke the syntax,
            # as libcst's parse did.
            try:
                ast.parse(text)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
                raise RenderError(f"the edited text does not parse: {error}") from None
            return text
    module = _rewritten(parsed_module(text), plan.operations)
    for operation in plan.operations:
        if isinstance(operation, AddImport):
            module = _add_import(module, operation)
    code = module.code
    if text.endswith("\r") and not code.endswith(("\r", "\n")):
        code += "\r"  # libcst drops the last line ending of a file with CR-only line endings
    return code


def _with_ranges(text: str, ranges: Sequence[ReplaceRange], first_line: int = 1) -> str:
    """``text`` with the text ranges replaced (their lines counted from ``first_line``, the
    line ``text`` starts at), the last first so that the others' offsets hold."""
    index = LineIndex(text)
    for rng in sorted(ranges, key=lambda o: (o.start.line, o.start.column), reverse=True):
        begin = index.offset(rng.start.line - first_line + 1, rng.start.column)
        end = index.offset(rng.end.line - first_line + 1, rng.end.column)
        text = text[:begin] + rng.content + text[end:]
    return text


def _rewritten(module: cst.Module, operations: Sequence[object]) -> cst.Module:
    """``module`` with the registered family operations, then the `with`-item wraps, applied
    (neither text ranges nor imports)."""
    _load_renderers()
    by_type: dict[type, list[Any]] = {}
    for operation in operations:
        if type(operation) in RENDERERS:
            by_type.setdefault(type(operation), []).append(operation)
    for op_type, ops in by_type.items():
        module = RENDERERS[op_type](module, ops)
    wraps = [op for op in operations if isinstance(op, WrapWithItem)]
    if wraps:
        transformer = _WrapWithItems(wraps)
        module = position_wrapper(module).visit(transformer)
        if transformer.done != len(wraps):
            raise RenderError("a planned `with` statement was not found")
    return module


def edits_between(old: str, new: str) -> tuple[Edit, ...]:
    """Line-granular edits that turn ``old`` into ``new``."""
    old_lines = LineIndex(old).lines if old else []
    new_lines = LineIndex(new).lines if new else []
    # Strip the common head and tail first: a fix changes a few lines, and difflib is slow
    # (and quadratic on repeated lines) over a whole module.
    head = 0
    limit = min(len(old_lines), len(new_lines))
    while head < limit and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while (tail < limit - head and old_lines[len(old_lines) - 1 - tail] == new_lines[len(new_lines) - 1 - tail]):
        tail += 1
    old_mid = old_lines[head:len(old_lines) - tail]
    new_mid = new_lines[head:len(new_lines) - tail]
    matcher = difflib.SequenceMatcher(a=old_mid, b=new_mid)
    edits = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(Edit("".join(new_mid[j1:j2]), Position(head + i1 + 1, 0), Position(head + i2 + 1, 0)))
    return tuple(edits)


def render_fix(text: str, plan: FixPlan) -> Fix:
    """Render ``plan`` against ``text`` into concrete edits.

    A plan touches a few top-level statements (and maybe the imports at the top): those are
    rendered alone, so rendering the fixes of a module is linear in its size, not its size times
    its findings. A plan that does not fit that shape is rendered against the whole module.
    """
    edits = _render_in_windows(text, plan)
    if edits is not None:
        return Fix(plan.title, plan.applicability, edits)
    new = render_source(text, plan)
    return Fix(plan.title, plan.applicability, edits_between(text, new))


@dataclass(frozen=True)
class Layout:
    """A module's top-level statements as line spans (decorators included), from ``ast``."""

    lines: list[str]  # as LineIndex splits them, line endings kept
    spans: list[tuple[int, int]]  # (first line, last line) of each top-level statement
    imports: frozenset[tuple[str, str | None]]  # top-level `import m` / `from m import n`
    head: int | None  # last line of the docstring and leading imports; None when there are none
    shared_lines: bool  # two top-level statements on one line (`import a; x = 1`)
    # For each top-level class, by its first line: its methods' (first line with decorators,
    # last line, column), so a fix in a method is rendered without parsing the class again.
    methods: dict[int, tuple[tuple[int, int, int], ...]] = field(default_factory=dict)


def _first_line(stmt: ast.stmt) -> int:
    """A statement's first line, its decorators included."""
    decorators: list[ast.expr] = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(d.lineno for d in decorators)])


@lru_cache(maxsize=4)
def layout_of(text: str) -> Layout | None:
    """The :class:`Layout` of ``text`` (computed once per text); None when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    spans: list[tuple[int, int]] = []
    imports: set[tuple[str, str | None]] = set()
    methods: dict[int, tuple[tuple[int, int, int], ...]] = {}
    for stmt in tree.body:
        first = _first_line(stmt)
        spans.append((first, stmt.end_lineno or stmt.lineno))
        if isinstance(stmt, ast.ClassDef):
            methods[first] = tuple(
                (_first_line(item), item.end_lineno or item.lineno, item.col_offset)
                for item in stmt.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
        if isinstance(stmt, ast.Import):
            imports.update((a.name, None) for a in stmt.names if a.asname is None)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            imports.update((stmt.module, a.name) for a in stmt.names if a.asname is None)
    head: int | None = None
    index = 0
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        head = spans[0][1]
        index = 1
    while index < len(body) and isinstance(body[index], (ast.Import, ast.ImportFrom)):
        head = spans[index][1]
        index += 1
    shared = any(a[1] >= b[0] for a, b in pairwise(spans))
    return Layout(LineIndex(text).lines if text else [], spans, frozenset(imports), head, shared,
                  methods)


def _positions(value: object) -> Iterator[Position]:
    if isinstance(value, Position):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _positions(item)
    elif is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            yield from _positions(getattr(value, item.name))


def _shifted(value: Any, lines: int) -> Any:
    """``value`` (an operation, a tuple, a position) with every position ``lines`` lines up."""
    if isinstance(value, Position):
        return Position(value.line - lines, value.column)
    if isinstance(value, tuple):
        return tuple(_shifted(item, lines) for item in value)
    if is_dataclass(value) and not isinstance(value, type):
        return dc_replace(value, **{f.name: _shifted(getattr(value, f.name), lines)
                                    for f in fields(value)})
    return value


def _render_in_windows(text: str, plan: FixPlan) -> tuple[Edit, ...] | None:
    """The plan's edits, rendered on the top-level statements it touches (and on the imports at
    the top for an import it adds); None when the plan does not fit that shape."""
    layout = layout_of(text)
    if layout is None or layout.shared_lines or not layout.spans:
        return None
    body_ops = [op for op in plan.operations if not isinstance(op, AddImport)]
    imports = [op for op in plan.operations if isinstance(op, AddImport)
               and (op.module, op.name) not in layout.imports]
    if not body_ops:
        return None
    positions = [p for op in body_ops for p in _positions(op)]
    if not positions:
        return None
    low, high = min(p.line for p in positions), max(p.line for p in positions)
    covering = [span for span in layout.spans if span[1] >= low and span[0] <= high]
    if not covering or covering[0][0] > low or covering[-1][1] < high:
        return None
    first, last = covering[0][0], covering[-1][1]
    if imports and (layout.head is None or layout.head >= first):
        return None
    edits: list[Edit] = []
    if imports:
        head_old = "".join(layout.lines[:layout.head])
        module = parsed_module(head_old)  # the same for every fix of the file that adds one
        for operation in imports:
            module = _add_import(module, operation)
        head_new = module.code
        if head_old.endswith("\r") and not head_new.endswith(("\r", "\n")):
            head_new += "\r"
        edits.extend(edits_between(head_old, head_new))
    window_old = "".join(layout.lines[first - 1:last])
    window_plan = FixPlan(plan.title, plan.applicability,
                          tuple(_shifted(op, first - 1) for op in body_ops))
    in_class = layout.methods.get(first) if len(covering) == 1 else None
    window_edits = (_render_in_method(window_old, window_plan, tuple(
        (start - first + 1, end - first + 1, column) for start, end, column in in_class))
        if in_class else None)
    if window_edits is None:
        window_new = render_source(window_old, window_plan)
        window_edits = edits_between(window_old, window_new)
        try:
            ast.parse(window_new)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    edits.extend(Edit(e.content, Position(e.start.line + first - 1, e.start.column),
                      Position(e.end.line + first - 1, e.end.column))
                 for e in window_edits)
    return tuple(edits)


def _moved(value: Any, lines: int, columns: int) -> Any:
    """``value`` (an operation, a tuple, a position) with every position moved ``lines`` up and
    ``columns`` left."""
    if isinstance(value, Position):
        return Position(value.line - lines, value.column - columns)
    if isinstance(value, tuple):
        return tuple(_moved(item, lines, columns) for item in value)
    if is_dataclass(value) and not isinstance(value, type):
        return dc_replace(value, **{f.name: _moved(getattr(value, f.name), lines, columns)
                                    for f in fields(value)})
    return value


def _render_in_method(text: str, plan: FixPlan,
                      methods: tuple[tuple[int, int, int], ...]) -> tuple[Edit, ...] | None:
    """The edits of ``plan`` on ``text`` (one top-level class), rendered on the one method all
    its operations lie in; None when the plan does not fit that shape (then render the class).

    A class can be thousands of lines long, and libcst's positions and code are computed over
    the whole module it renders: rendering only the method made a fix in a large class ~10x
    cheaper. The method is rendered as a module of its own (libcst keeps indentation relative,
    so it comes out dedented), then written back with the class body's indentation; the text it
    was made from must equal the class's lines, character for character, or the class is
    rendered instead. The edits are those of rendering the whole class (the same lines change).
    ``methods``: the class's methods as (first line with decorators, last line, column), from
    the module's parse (:func:`layout_of`). The new method is parsed on its own under a class
    header: the class's other lines are unchanged, so the class parses when it does."""
    if any(isinstance(op, AddImport) for op in plan.operations):
        return None
    positions = [p for op in plan.operations for p in _positions(op)]
    if not positions:
        return None
    low, high = min(p.line for p in positions), max(p.line for p in positions)
    found = [span for span in methods if span[0] <= low and high <= span[1]]
    if len(found) != 1:
        return None
    first, last, columns = found[0]
    if any(p.column < columns for p in positions):
        return None
    lines = LineIndex(text).lines
    newline = lines[first - 1][len(lines[first - 1].rstrip("\r\n")):] or "\n"
    old = "".join(lines[first - 1:last])
    alone = _method_alone(old, newline, columns)
    if alone is None:
        return None
    ranges = [op for op in plan.operations if isinstance(op, ReplaceRange)]
    if ranges:
        # Text ranges first, as on the class (render_source), then the method parsed again.
        alone = _method_alone(_with_ranges(old, ranges, first), newline, columns)
        if alone is None:
            return None
    module, method, indent = alone
    moved = tuple(_moved(op, first - 1, columns) for op in plan.operations
                  if not isinstance(op, ReplaceRange))
    rewritten = _rewritten(cst.Module(body=[method], default_indent=module.default_indent,
                                      default_newline=module.default_newline,
                                      encoding=module.encoding), moved)
    if len(rewritten.body) != 1:
        return None
    new = _indented_code(module, rewritten.body[0], indent)
    if new == old:
        return None
    try:
        ast.parse(f"class _:{newline}" + new)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # rendered on the class instead, and checked there
    return tuple(Edit(e.content, Position(e.start.line + first - 1, e.start.column),
                      Position(e.end.line + first - 1, e.end.column))
                 for e in edits_between(old, new))


def _method_alone(text: str, newline: str, columns: int
                  ) -> tuple[cst.Module, cst.FunctionDef, str] | None:
    """The method ``text`` (its lines in the class, indented ``columns``) parsed by libcst
    under a class header of its own (a few lines, not the class), with the indentation of the
    class body; None when it does not parse so or does not print back as ``text``."""
    try:
        module = parsed_module(f"class _:{newline}" + text)
    except Exception:  # noqa: BLE001 - libcst's parser errors: render the class instead
        return None
    klass = module.body[0] if len(module.body) == 1 else None
    if (not isinstance(klass, cst.ClassDef) or not isinstance(klass.body, cst.IndentedBlock)
            or len(klass.body.body) != 1 or not isinstance(klass.body.body[0], cst.FunctionDef)):
        return None
    method = klass.body.body[0]
    indent = klass.body.indent if klass.body.indent is not None else module.default_indent
    if len(indent) != columns or _indented_code(module, method, indent) != text:
        return None
    return module, method, indent


def _indented_code(module: cst.Module, node: cst.CSTNode, indent: str) -> str:
    """The code of ``node`` as it reads inside a block indented by ``indent`` in ``module``."""
    state = CodegenState(default_indent=module.default_indent,
                         default_newline=module.default_newline)
    state.indent_tokens.append(indent)
    node._codegen(state)
    return "".join(state.tokens)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits (positions relative to ``text``)."""
    index = LineIndex(text)
    out = text
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        begin = index.offset(edit.start.line, edit.start.column)
        end = index.offset(edit.end.line, edit.end.column)
        out = out[:begin] + edit.content + out[end:]
    return out
