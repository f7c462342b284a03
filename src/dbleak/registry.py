"""The one table that maps rule codes to rules, and rule selection by code or prefix.

Selection reads :data:`RULE_TABLE`, which names each rule without importing it: a run whose
files are all answered from the persistent cache learns which rules apply (and whether any
needs the project index) without loading the rules and their analyses.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from functools import cache
from pathlib import PurePath
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from dbleak.rules.base import Rule
    from dbleak.settings import Settings

# Codes of findings the engine itself makes (not rules that can be deselected).
SYNTAX_ERROR = ("DBL001", "invalid-syntax")
UNREADABLE_FILE = ("DBL002", "unreadable-file")
ENGINE_CODES = {SYNTAX_ERROR[0]: SYNTAX_ERROR[1], UNREADABLE_FILE[0]: UNREADABLE_FILE[1]}


class RuleInfo(NamedTuple):
    """What selecting a rule needs to know of it, and where it is defined."""

    code: str
    name: str
    default_enabled: bool
    needs_project: bool  # whether it reads the project index (the runner then builds it)
    module: str
    qualname: str


# Every rule's class attributes, sorted by code (tests/test_registry.py checks them against
# the classes of ``dbleak.rules.RULES``: a rule added there must be added here).
RULE_TABLE: tuple[RuleInfo, ...] = (
    RuleInfo("DBL003", "unused-noqa", False, False, "dbleak.rules.dbl003_unused_noqa", "UnusedNoqa"),
    RuleInfo("DBL101", "unclosed-connection", True, True,
             "dbleak.rules.dbl101_unclosed_connection", "UnclosedConnection"),
    RuleInfo("DBL102", "unclosed-cursor", True, True, "dbleak.rules.dbl102_unclosed_cursor",
             "UnclosedCursor"),
    RuleInfo("DBL103", "close-skipped-on-exception", True, True,
             "dbleak.rules.dbl103_close_skipped_on_exception", "CloseSkippedOnException"),
    RuleInfo("DBL104", "with-does-not-close", True, False,
             "dbleak.rules.dbl104_with_does_not_close", "WithDoesNotClose"),
    RuleInfo("DBL106", "owner-never-closes", True, True, "dbleak.rules.dbl106_owner_never_closes",
             "OwnerNeverCloses"),
    RuleInfo("DBL108", "module-level-connection", False, True,
             "dbleak.rules.dbl108_module_level_connection", "ModuleLevelConnection"),
    RuleInfo("DBL201", "unbounded-fetchall", True, True, "dbleak.rules.dbl201_unbounded_fetchall",
             "UnboundedFetchall"),
    RuleInfo("DBL202", "unbounded-orm-all", True, True, "dbleak.rules.dbl202_unbounded_orm_all",
             "UnboundedOrmAll"),
    RuleInfo("DBL203", "unbounded-queryset-list", True, True,
             "dbleak.rules.dbl203_unbounded_queryset_list", "UnboundedQuerysetList"),
    RuleInfo("DBL204", "read-sql-without-chunksize", True, True,
             "dbleak.rules.dbl204_read_sql_without_chunksize", "ReadSqlWithoutChunksize"),
    RuleInfo("DBL205", "client-side-cursor-streaming", True, False,
             "dbleak.rules.dbl205_client_side_cursor_streaming", "ClientSideCursorStreaming"),
    RuleInfo("DBL301", "materialized-generator", True, True,
             "dbleak.rules.dbl301_materialized_generator", "MaterializedGenerator"),
    RuleInfo("DBL302", "materialized-cursor", True, False,
             "dbleak.rules.dbl302_materialized_cursor", "MaterializedCursor"),
    RuleInfo("DBL303", "len-of-materialized", True, True,
             "dbleak.rules.dbl303_len_of_materialized", "LenOfMaterialized"),
    RuleInfo("DBL304", "first-of-materialized", True, True,
             "dbleak.rules.dbl304_first_of_materialized", "FirstOfMaterialized"),
    RuleInfo("DBL305", "fetchall-iterated-once", True, False,
             "dbleak.rules.dbl305_fetchall_iterated_once", "FetchallIteratedOnce"),
    RuleInfo("DBL306", "queryset-evaluated-for-count", True, True,
             "dbleak.rules.dbl306_queryset_evaluated_for_count", "QuerysetEvaluatedForCount"),
)


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


RULE_DOCS_URL = "https://dbleak.readthedocs.io/rules/{code}/"


def rule_url(code: str) -> str | None:
    """The documentation page of the rule ``code``, read from :data:`RULE_TABLE` (no rule
    imported: a warm run's JSON report needs no rule module); None for the engine's codes."""
    if any(info.code == code for info in RULE_TABLE):
        return RULE_DOCS_URL.format(code=code)
    rule = rule_by_code(code)
    return rule.url() if rule is not None else None


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
    codes = [*ENGINE_CODES, *(rule.code for rule in RULE_TABLE)]
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
    for rule in RULE_TABLE:
        best_select = max((_specificity(s, rule.code) for s in selectors), default=-1)
        if not rule.default_enabled and best_select < len(rule.code):
            continue
        best_ignore = max((_specificity(s, rule.code) for s in ignore), default=-1)
        if best_select >= 0 and best_select > best_ignore:
            chosen.add(rule.code)
    return frozenset(chosen)


def selected_codes(settings: Settings, ignore_more: Iterable[str] = ()) -> tuple[RuleInfo, ...]:
    """The rules ``settings`` enable (less ``ignore_more``), by code, without importing them."""
    codes = enabled_codes(settings.select, settings.extend_select, [*settings.ignore, *ignore_more])
    return tuple(rule for rule in RULE_TABLE if rule.code in codes)


def selected_rules(settings: Settings, ignore_more: Iterable[str] = ()) -> tuple[type[Rule], ...]:
    codes = enabled_codes(settings.select, settings.extend_select, [*settings.ignore, *ignore_more])
    return tuple(rule for rule in all_rules() if rule.code in codes)


def per_file_ignored(path: str, settings: Settings) -> tuple[str, ...]:
    """Codes that `per-file-ignores` turns off for ``path`` (globs relative to the config's folder)."""
    if not settings.per_file_ignores:
        return ()
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, os.path.abspath(settings.root or "."))
    relative = PurePath(relative).as_posix()
    name = os.path.basename(path)
    codes: list[str] = []
    for pattern, ignored in settings.per_file_ignores:
        if (fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(name, pattern)
                or PurePath(relative).match(pattern)):
            codes.extend(ignored)
    return tuple(codes)


def active_codes(path: str, settings: Settings) -> tuple[RuleInfo, ...]:
    """The rules that run on the file at ``path``, without importing them (see
    :func:`dbleak.engine.active_rules`, which gives their classes)."""
    return selected_codes(settings, per_file_ignored(path, settings))
