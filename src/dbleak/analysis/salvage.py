"""What a module that does not parse as a whole still says about itself.

A module of Python 2 code (a ``print`` statement in one method) or of a newer grammar gives no
project summary, so every module that imports from it loses what it defines: a
``Session = sessionmaker()`` next to a class with one ``print ''`` is as unknown as the class.
:func:`salvage_module` parses each top-level statement on its own and keeps those that parse,
at their own lines. It serves summaries only: the module itself is still reported as
unparsable (DBL001) and gets no finding.
"""

from __future__ import annotations

import ast
import re

_CONTINUATION = re.compile(r"(else|elif|except|finally)\b")


def salvage_module(text: str) -> ast.Module | None:
    """The top-level statements of ``text`` that parse on their own (None if none does); a
    class that does not parse keeps its header and the members of its body that do (a model
    whose one method is Python 2 still declares its fields and its bases)."""
    lines = text.splitlines(keepends=True)
    body: list[ast.stmt] = []
    for start, end in _statements(lines, ""):
        try:
            tree = ast.parse("".join(lines[start:end]))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            # this statement is the one in another grammar (or a string split apart)
            klass = _salvage_class(lines, start, end)
            if klass is not None:
                body.append(klass)
            continue
        ast.increment_lineno(tree, start)
        body.extend(tree.body)
    return ast.Module(body=body, type_ignores=[]) if body else None


def _statements(lines: list[str], indent: str, first: int = 0,
                last: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` line ranges of the statements that begin at ``indent`` (a statement's
    decorators and its ``else``/``except`` parts with it) in ``lines[first:last]``."""
    last = len(lines) if last is None else last
    starts: list[int] = []
    decorated = False
    width = len(indent)
    for number in range(first, last):
        line = lines[number]
        if not line.startswith(indent):
            continue
        rest = line[width:]
        if not rest or rest[0] in " \t\r\n\f#)]}" or _CONTINUATION.match(rest):
            continue
        if not decorated:
            starts.append(number)
        decorated = rest.startswith("@")
    return [(start, starts[index + 1] if index + 1 < len(starts) else last)
            for index, start in enumerate(starts)]


_CLASS_HEADER = re.compile(r"(@.*\n)*class\s+\w+")
_INDENT = re.compile(r"[ \t]+(?=\S)")


def _salvage_class(lines: list[str], start: int, end: int) -> ast.ClassDef | None:
    """A top-level class statement that does not parse, as its header and the statements of
    its body that parse on their own (at their own lines); None when the header cannot be
    read or nothing of the body parses."""
    if not _CLASS_HEADER.match("".join(lines[start:min(end, start + 20)])):
        return None
    for header_end in range(start + 1, min(end, start + 20) + 1):
        try:
            shell = ast.parse("".join(lines[start:header_end]) + "\n    pass\n")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        if len(shell.body) == 1 and isinstance(shell.body[0], ast.ClassDef):
            break
    else:
        return None
    klass = shell.body[0]
    assert isinstance(klass, ast.ClassDef)
    ast.increment_lineno(shell, start)
    indent = next((m.group() for line in lines[header_end:end] if (m := _INDENT.match(line))), None)
    if indent is None:
        return None
    members: list[ast.stmt] = []
    for first, last in _statements(lines, indent, header_end, end):
        try:
            part = ast.parse("class _:\n" + "".join(lines[first:last]))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        ast.increment_lineno(part, first - 1)
        members.extend(part.body[0].body)  # type: ignore[attr-defined]
    if not members:
        return None
    klass.body = members
    return klass


def summary_tree(text: str, path: str) -> ast.Module | None:
    """The tree a module's project summary is made from: the whole module, or what
    :func:`salvage_module` keeps of it when it does not parse."""
    try:
        return ast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return salvage_module(text)
