"""One traversal of a module's `ast` that collects the facts every rule reads."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from dbleak.analysis.names import ImportResolver
from dbleak.knowledge.drivers import DriverTable

ScopeNode = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef

_COMPOUND: tuple[type[ast.stmt], ...] = (
    ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While, ast.If, ast.Try,
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Match,
)
if hasattr(ast, "TryStar"):
    _COMPOUND = (*_COMPOUND, ast.TryStar)


@dataclass(eq=False)
class Scope:
    node: ScopeNode
    parent: Scope | None

    @property
    def is_function(self) -> bool:
        return isinstance(self.node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))


@dataclass(frozen=True, eq=False)
class CallSite:
    node: ast.Call
    stmt: ast.stmt | None
    scope: Scope


@dataclass(frozen=True, eq=False)
class WithSite:
    node: ast.With | ast.AsyncWith
    scope: Scope


@dataclass(eq=False)
class ModuleFacts:
    """Facts about one module. Build with :func:`collect_facts`."""

    tree: ast.Module
    drivers: DriverTable
    module_name: str = ""
    resolver: ImportResolver = field(init=False)
    calls: list[CallSite] = field(default_factory=list)
    withs: list[WithSite] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=list)
    # id(stmt) -> the statement list that holds it and its index there.
    statement_parent: dict[int, ast.AST] = field(default_factory=dict)
    scope_of_stmt: dict[int, Scope] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.resolver = ImportResolver(self.drivers.canonical)

    def qualname(self, node: ast.AST) -> str | None:
        """The qualified name of a Name/Attribute chain, through the imports."""
        return self.resolver.resolve(node)

    def call_qualname(self, call: ast.Call) -> str | None:
        return self.resolver.resolve(call.func)

    @cached_property
    def module_scope(self) -> Scope:
        return self.scopes[0]

    def parent_statement(self, stmt: ast.AST) -> ast.AST | None:
        return self.statement_parent.get(id(stmt))


def statement_header_lines(stmt: ast.stmt) -> tuple[int, int]:
    """First and last line of a statement's own text (for a compound statement: its header)."""
    if isinstance(stmt, _COMPOUND):
        body = getattr(stmt, "body", None)
        if body and isinstance(body, list) and isinstance(body[0], ast.stmt):
            first = body[0].lineno
            return stmt.lineno, max(stmt.lineno, first - 1 if first > stmt.lineno else first)
        return stmt.lineno, stmt.lineno
    return stmt.lineno, stmt.end_lineno or stmt.lineno


def collect_facts(tree: ast.Module, drivers: DriverTable, module_name: str = "") -> ModuleFacts:
    """Walk the tree once, recording calls, with-statements, scopes and statement parents."""
    facts = ModuleFacts(tree=tree, drivers=drivers, module_name=module_name)
    resolver = facts.resolver
    root = Scope(tree, None)
    facts.scopes.append(root)
    # (node, scope, enclosing statement)
    stack: list[tuple[ast.AST, Scope, ast.stmt | None]] = [(tree, root, None)]
    calls = facts.calls
    statement_parent = facts.statement_parent
    scope_of_stmt = facts.scope_of_stmt
    while stack:
        node, scope, stmt = stack.pop()
        if isinstance(node, ast.stmt):
            stmt = node
            scope_of_stmt[id(node)] = scope
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                resolver.add_import(node, module_name,
                                    top_level=statement_parent.get(id(node)) is tree)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                facts.withs.append(WithSite(node, scope))
            elif isinstance(node, ast.Assign) and scope is root:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        if isinstance(node.value, (ast.Name, ast.Attribute)) and len(node.targets) == 1:
                            resolver.add_alias(target.id, node.value)
                        else:
                            resolver.rebind(target.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and scope is root:
                resolver.add_local(node.name, f"{module_name}.{node.name}" if module_name else node.name)
        elif isinstance(node, ast.Call):
            calls.append(CallSite(node, stmt, scope))
        child_scope = scope
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            child_scope = Scope(node, scope)
            facts.scopes.append(child_scope)
        children = list(ast.iter_child_nodes(node))
        for child in reversed(children):
            if isinstance(child, ast.stmt):
                statement_parent[id(child)] = node
            stack.append((child, child_scope, stmt))
    return facts


def walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` that belongs to the same scope (nested defs are not entered)."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            # Decorators and defaults run in this scope; the body does not.
            if isinstance(child, ast.Lambda):
                stack.extend(child.args.defaults)
                stack.extend(d for d in child.args.kw_defaults if d is not None)
            else:
                stack.extend(child.decorator_list)
                if not isinstance(child, ast.ClassDef):
                    stack.extend(child.args.defaults)
                    stack.extend(d for d in child.args.kw_defaults if d is not None)
            continue
        stack.extend(ast.iter_child_nodes(child))
