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
    """The top-level statements of ``text`` that parse on their own (None if none does)."""
    lines = text.splitlines(keepends=True)
    starts: list[int] = []
    decorated = False
    for number, line in enumerate(lines):
        if not line or line[0] in " \t\r\n\f#)]}" or _CONTINUATION.match(line):
            continue
        if not decorated:
            starts.append(number)
        decorated = line.startswith("@")
    body: list[ast.stmt] = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        try:
            tree = ast.parse("".join(lines[start:end]))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue  # this statement is the one in another grammar (or a string split apart)
        ast.increment_lineno(tree, start)
        body.extend(tree.body)
    return ast.Module(body=body, type_ignores=[]) if body else None


def summary_tree(text: str, path: str) -> ast.Module | None:
    """The tree a module's project summary is made from: the whole module, or what
    :func:`salvage_module` keeps of it when it does not parse."""
    try:
        return ast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return salvage_module(text)
