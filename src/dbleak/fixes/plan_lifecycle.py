"""Fix operations of the lifecycle rules (DBL101–DBL103): plain data, no libcst.

Statements are named by the position of their first character (1-based line, 0-based
character column), the same position libcst's ``PositionProvider`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbleak.models import Position


@dataclass(frozen=True)
class WrapInWith:
    """Replace the statements from ``first`` (the creating assignment) through ``last`` of one
    block by ``[async ]with <item>:`` whose body is the statements after ``first``, without
    those at ``drop`` (the now-redundant ``close()``)."""

    first: Position
    last: Position
    item: str  # e.g. "closing(sqlite3.connect(path)) as conn"
    drop: tuple[Position, ...] = ()
    is_async: bool = False
    # Keep the statement at ``first`` as the first one of the body (a one-shot temporary whose
    # call a ReplaceRange of the same plan turns into the `as` name).
    keep_first: bool = False


@dataclass(frozen=True)
class WrapInTryFinally:
    """Keep the statement at ``first``; put the statements after it through ``last`` (without
    ``drop``) in ``try:`` and ``release`` in ``finally:``."""

    first: Position
    last: Position
    release: str  # e.g. "await conn.close()"
    drop: tuple[Position, ...] = ()


@dataclass(frozen=True)
class MoveReleaseToFinally:
    """Move the statement at ``release`` out of the body of the ``try`` at ``try_start`` into
    a new ``finally:`` block of that ``try``."""

    try_start: Position
    release: Position
