"""The rule framework: what every rule declares, and the context it checks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from dbleak.analysis.context import CheckContext
from dbleak.knowledge.drivers import DriverTable
from dbleak.models import Finding
from dbleak.registry import RULE_DOCS_URL

DOC_SECTIONS = (
    "What it does", "Why is this bad?", "Example", "Use instead", "Known problems",
    "Fix safety", "Options", "References",
)


@dataclass(frozen=True)
class Example:
    """An INVALID example: source, and the expected text after `--fix` (and `--unsafe-fixes`)."""

    source: str
    fixed: str | None = None
    unsafe_fixed: str | None = None


# Paragraphs several rules' documentation shares word for word, so that they are written once.
# A docstring line `[[name]]` stands for the paragraph (see `Rule.documentation`).
DOC_PARTS = {
    "root-tables-recall": (
        'On the fix commits of the recall corpus (rounds 1–12, 169 unbounded reads maintainers\n'
        'fixed; d4ec2ed) it silences 8 of them (63/169 found, 71/169 with `root-tables =\n'
        '"report"`: maestral\'s sync index, pulp\'s `Artifact` and `PythonPackageContent`, kpi\'s\n'
        "`Organization`, resolwe's `FileStorage`, …) and no repaired line; `per-parent`, `returned`\n"
        "and `grouped` together silence 4 (the votes of one proposal, two dataloaders' batches of\n"
        'parents, one user\'s submissions: 67/169 with all three set to `"report"`), and no repaired\n'
        'line (benchmarks/recall/README.md).'),
    "root-tables-migrations": (
        "In a migration (a module of a `migrations` folder: Django's, Alembic's `versions`) only\n"
        "the roots with a natural key (a unique field or set of fields other than a surrogate\n"
        "`id`/`uuid`: a label, a code, a name) are read as lookup tables: a data migration walks a\n"
        "table to rewrite every row of it, and a root without such a key is a growing table\n"
        "(attributes, shortened URLs, uploaded files, notifications). On the corpus reviews this\n"
        "reports 15 more findings, 10 of them real (superset's Druid columns and metrics,\n"
        "evennia's attributes), against 11 real of 24 for every root without a natural key in\n"
        "migrations, management commands and tasks, and 19 of 84 for every root in them; on the\n"
        "recall corpus it finds one more fix (django-yubin's migration over every message)."),
    "tests-not-checked": (
        "Test modules (`test_*.py`, `*_test.py`, `conftest.py`, and every module in a `tests`, "
        "`test`,\n`testing` or `test_utils` folder of the project: helpers and mixins) and tests "
        "anywhere else\n(functions named `test…`, classes named `Test…`/`…Test(s)`) are not "
        "checked: they read fixture\ntables of a few rows by design."),
    "rows-not-reported-by-default": (
        "Not reported by default, because no local rewrite would help or the size is one\n"
        "parent's or one per group: reads whose list of rows itself leaves the function (returned, yielded as "
        "one\nvalue, or stored on an object, or kept as they are by the loop that walks them, "
        "as in\n`by_key[row.key].append(row)`: every row stays in memory anyway; "
        "`returned = \"report\"`\nreports them; rows transformed on the way out are still "
        "reported),\nand reads of the children of one row (a `WHERE`/filter equality on a "
        "foreign key such as\n`order_id = ?`, a relation of a model of the checked tree such "
        "as `filter(order=o)` (a\nrelationship's `backref` names one of the other model), or an\n"
        "`in_`/`__in` over a batch of parents held in memory; "
        "`per-parent = \"report\"` reports them),\nand aggregates grouped by plain columns "
        "(`GROUP BY status`, `group_by(M.status)`: one row per\ndistinct value, not one per "
        "row; a key or a foreign key is no plain column;\n`grouped = \"report\"` reports them). "
        "On the fix commits of the recall corpus (rounds\n1–12: 169 unbounded reads maintainers "
        "later fixed) `returned`, `per-parent` and `grouped`\ntogether silence 4 (the votes "
        "of one proposal, two dataloaders' batches of parents, one\nuser's submissions) and "
        "no repaired line; on the precision reviews the same classes were\nmost of the 322 "
        "findings of the first review, right to the letter and not worth acting on.\n"
        "Measured again on rounds 1–15 (208 reads; e6396b1 and related managers):\n"
        "`per-parent = \"report\"` alone finds 14 more (96/208 against 82/208: onadata's "
        "forms of a\nproject, Misago's threads of a forum, courtlistener's docket entries, …), "
        "no false alarm;\non the corpus of real packages it adds 861 findings to 979 (413 of "
        "them loops over a\nrelated manager; a sample of 12 read 1 TP: an event's quotas, an "
        "order's lines, a page's\nrestrictions): the default stays.\nA "
        "function that returns `cur.fetchall()` of `SELECT * FROM events` is left alone: no\n"
        "rewrite inside it would save memory (the fix is its callers' API: pages). Measured\n"
        "again on rounds 1–17 (242 reads, c422937): `returned = \"report\"` finds 2 more\n"
        "(CTFd's admin list of users, wheelodex's index), no false alarm on 201 repaired\n"
        "lines, and adds 94 findings to the corpus's 999 (returned search results, settings\n"
        "groups, pools, a changeset's comments): the default stays. DBL201 and DBL202 report\n"
        "the rows a module-level function returns as they are (`return q.all()`, or a name bound to them and only\n"
        "returned) when every call of it in the project walks them once (`for row\n"
        "in rows_of(...)`, or a name bound to the call and read by one loop only; not when the\n"
        "function is decorated or used as a value): the list was not needed (corpus +2, both\n"
        "worth a change; recall unchanged).\n"
        "`unresolved = \"report\"` measured on both sides (rounds 1–7, 126 reads maintainers\n"
        "fixed): it finds 5 more of them (generic `run_query(sql)` helpers, `read_sql_query()`\n"
        "of a parameter, a SQLAlchemy Core `select(table)`) and makes 1 false alarm on the 102\n"
        "repaired lines; on the corpus of real packages it adds 263 findings to 914, and a\n"
        "random sample of 24 of them read 6 TP, 18 FP (generic query APIs, batches, catalog\n"
        "queries, limits in f-string holes): about 66 real reads for 197 false ones, so the\n"
        "default stays."),
}
_DOC_PART = re.compile(r"^\[\[([a-z0-9-]+)\]\]$", re.MULTILINE)

class Rule:
    """Base of every rule. Subclasses set the class attributes and implement :meth:`check`.

    The class docstring is the rule's documentation, in ruff's sections (``## What it does``
    … ``## References``); ``dbleak rule CODE`` prints it.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    message: ClassVar[str]
    fix_title: ClassVar[str | None] = None
    # "always", "sometimes" or "none"
    fix_availability: ClassVar[str] = "none"
    default_enabled: ClassVar[bool] = True
    # True when the rule reads ``ctx.project`` (the runner then builds the index first).
    needs_project: ClassVar[bool] = False
    VALID: ClassVar[tuple[str, ...]] = ()
    INVALID: ClassVar[tuple[Example, ...]] = ()

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        """Substrings without which a file cannot hold a finding; None: always parse."""
        return None

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterable[Finding]:
        raise NotImplementedError

    @classmethod
    def documentation(cls) -> str:
        """The rule's docstring, with each ``[[name]]`` line replaced by ``DOC_PARTS[name]``."""
        import inspect

        text = inspect.cleandoc(cls.__doc__ or "")
        return _DOC_PART.sub(lambda match: DOC_PARTS[match.group(1)], text)

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        sections: dict[str, str] = {}
        current = None
        for line in cls.documentation().splitlines():
            match = re.match(r"^##\s+(.*\S)\s*$", line)
            if match:
                current = match.group(1)
                sections[current] = ""
            elif current is not None:
                sections[current] += line + "\n"
        return {k: v.strip() for k, v in sections.items()}

    @classmethod
    def url(cls) -> str:
        return RULE_DOCS_URL.format(code=cls.code)


__all__ = ["DOC_PARTS", "DOC_SECTIONS", "CheckContext", "Example", "Rule"]
