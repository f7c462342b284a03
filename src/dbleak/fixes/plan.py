"""The operations a fix plan is made of: plain data over source positions (no libcst here).

Positions are 1-based lines and 0-based character columns, as everywhere inside dbleak.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbleak.models import Position


@dataclass(frozen=True)
class WrapWithItem:
    """In the `with` statement starting at ``with_start``, wrap item ``item_index`` as
    ``wrapper(<expr>) as <name>`` and add ``<name>`` as the next item, so the object's own
    `with` still runs inside the wrapper (``with closing(connect(p)) as conn, conn:``)."""

    with_start: Position
    item_index: int
    wrapper: str  # expression text, e.g. "closing" or "contextlib.closing"
    name: str  # the `as` name (the existing one, or a fresh one when the item had none)
    keep_inner_with: bool = True


@dataclass(frozen=True)
class AddImport:
    """Make sure ``from module import name`` (or ``import module`` when name is None) exists."""

    module: str
    name: str | None = None


@dataclass(frozen=True)
class ReplaceRange:
    """Replace the text between start and end with ``content`` (used for simple rewrites)."""

    start: Position
    end: Position
    content: str
