"""The one table that maps rule codes to rules, and rule selection by code or prefix."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbleak.rules.base import Rule
    from dbleak.settings import Settings

# Codes of findings the engine itself makes (not rules that can be deselected).
SYNTAX_ERROR = ("DBL001", "invalid-syntax")
UNREADABLE_FILE = ("DBL002", "unreadable-file")
ENGINE_CODES = {SYNTAX_ERROR[0]: SYNTAX_ERROR[1], UNREADABLE_FILE[0]: UNREADABLE_FILE[1]}


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule, sorted by code."""
    from dbleak.rules import RULES

    return tuple(sorted(RULES, key=lambda r: r.code))


@cache
def runtime_rules() -> tuple[type[Rule], ...]:
    """The codes of the runtime check (`pytest --dbleak`): documented, never selected or run."""
    from dbleak.rules.runtime import RUNTIME_RULES

    return RUNTIME_RULES


def rule_by_code(code: str) -> type[Rule] | None:
    code = code.upper()
    for rule in (*all_rules(), *runtime_rules()):
        if rule.code == code or rule.name == code.lower():
            return rule
    return None


_SELECTOR = re.compile(r"^(ALL|DBL[0-9]{0,3})$")


def is_valid_selector(selector: str) -> bool:
    """Whether ``selector`` (``ALL``, a code, or a prefix of one) names at least one code.

    As in ruff, a selector that matches nothing is an error: a typo must not silence a run.
    """
    selector = selector.upper()
    if not _SELECTOR.match(selector):
        return False
    if selector in ("ALL", "DBL"):
        return True
    codes = [*ENGINE_CODES, *(rule.code for rule in all_rules())]
    return any(code.startswith(selector) for code in codes)


def _specificity(selector: str, code: str) -> int:
    """How specifically ``selector`` names ``code`` (-1: not at all)."""
    selector = selector.upper()
    if selector == "ALL":
        return 0
    if code.startswith(selector):
        return len(selector)
    return -1


def enabled_codes(select: Iterable[str], extend_select: Iterable[str], ignore: Iterable[str]) -> frozenset[str]:
    """ruff's resolution: the most specific selector wins; on a tie, ignore wins.

    Rules off by default are enabled only by a selector naming their full code.
    """
    chosen = set()
    selectors = [*select, *extend_select]
    for rule in all_rules():
        best_select = max((_specificity(s, rule.code) for s in selectors), default=-1)
        if not rule.default_enabled and best_select < len(rule.code):
            continue
        best_ignore = max((_specificity(s, rule.code) for s in ignore), default=-1)
        if best_select >= 0 and best_select > best_ignore:
            chosen.add(rule.code)
    return frozenset(chosen)


def selected_rules(settings: Settings, ignore_more: Iterable[str] = ()) -> tuple[type[Rule], ...]:
    codes = enabled_codes(settings.select, settings.extend_select, [*settings.ignore, *ignore_more])
    return tuple(rule for rule in all_rules() if rule.code in codes)
