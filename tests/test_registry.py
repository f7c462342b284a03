"""Every rule declares what the framework needs, and its own examples hold."""

from __future__ import annotations

import re

import pytest

from dbleak.api import check_source, fix_source
from dbleak.registry import ENGINE_CODES, all_rules, enabled_codes, rule_by_code
from dbleak.rules.base import DOC_SECTIONS
from dbleak.settings import Settings

RULES = all_rules()


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_declares_everything(rule) -> None:
    # DBL0xx: checks about dbleak itself (DBL001/DBL002 are the engine's, DBL003 unused-noqa).
    assert re.fullmatch(r"DBL[0-9]{3}", rule.code) and rule.code not in ENGINE_CODES
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    assert rule.message
    assert rule.fix_availability in ("always", "sometimes", "none")
    if rule.fix_availability != "none":
        assert rule.fix_title
    sections = rule.doc_sections()
    for section in DOC_SECTIONS:
        assert sections.get(section), f"{rule.code} lacks the section '{section}'"
    assert rule.VALID, f"{rule.code} has no VALID examples"
    assert rule.INVALID, f"{rule.code} has no INVALID examples"
    if rule.fix_availability != "none":
        assert any(e.fixed or e.unsafe_fixed for e in rule.INVALID)


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


def _settings(rule) -> Settings:
    return Settings(select=(rule.code,))


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_valid_examples_are_not_flagged(rule) -> None:
    for source in rule.VALID:
        result = check_source(source, "example.py", _settings(rule))
        assert [f for f in result.findings if f.code == rule.code] == [], source


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_invalid_examples_are_flagged_and_fixed(rule) -> None:
    for example in rule.INVALID:
        result = check_source(example.source, "example.py", _settings(rule))
        assert any(f.code == rule.code for f in result.findings), example.source
        if example.fixed is not None:
            assert fix_source(example.source, "example.py", _settings(rule)).text == example.fixed
        if example.unsafe_fixed is not None:
            outcome = fix_source(example.source, "example.py", _settings(rule), unsafe=True)
            assert outcome.text == example.unsafe_fixed


def test_selection_by_prefix_and_specificity() -> None:
    assert "DBL104" in enabled_codes(["DBL"], [], [])
    assert "DBL104" in enabled_codes(["DBL1"], [], [])
    assert "DBL104" not in enabled_codes(["DBL"], [], ["DBL1"])
    assert "DBL104" in enabled_codes(["DBL"], ["DBL104"], ["DBL1"])  # more specific wins
    assert "DBL104" not in enabled_codes(["DBL104"], [], ["DBL104"])  # tie: ignore wins


def test_off_by_default_rules_need_their_full_code() -> None:
    for rule in RULES:
        if not rule.default_enabled:
            assert rule.code not in enabled_codes(["DBL"], [], [])
            assert rule.code in enabled_codes(["DBL"], [rule.code], [])


def test_lookup_by_code_or_name() -> None:
    assert rule_by_code("dbl104") is rule_by_code("with-does-not-close") is not None


def test_the_static_rule_table_agrees_with_the_rule_classes() -> None:
    """RULE_TABLE lets a warm run select rules without importing them: it must name every
    rule of ``dbleak.rules.RULES``, with their class attributes, in code order."""
    from dbleak.registry import RULE_TABLE

    assert [tuple(info) for info in RULE_TABLE] == [
        (rule.code, rule.name, rule.default_enabled, rule.needs_project, rule.__module__,
         rule.__qualname__) for rule in RULES]


@pytest.mark.parametrize("selection", [
    Settings(), Settings(select=("DBL1",)), Settings(select=("ALL",)),
    Settings(select=("DBL3",), ignore=("DBL305",)), Settings(extend_select=("DBL108", "DBL003")),
    Settings(select=("DBL",), ignore=("DBL2",), per_file_ignores=(("*.py", ("DBL101",)),)),
])
def test_rules_are_selected_alike_by_code_and_by_class(selection: Settings) -> None:
    from dbleak.engine import active_rules
    from dbleak.registry import active_codes

    assert [info.code for info in active_codes("m.py", selection)] == [
        rule.code for rule in active_rules("m.py", selection)]


def test_the_summarizers_are_registered_alike_by_the_rules_and_by_the_first_pass() -> None:
    """A first pass that runs before any rule is imported loads the summarizers itself
    (SUMMARIZER_MODULES): the same ones, in the order the rules register them."""
    import subprocess
    import sys

    def order(code: str) -> list[str]:
        program = (f"{code}\nfrom dbleak.analysis.project import SUMMARIZERS\n"
                   "print(' '.join(s.__module__ + '.' + s.__name__ for s in SUMMARIZERS))\n")
        return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                              check=True, timeout=120).stdout.split()

    by_rules = order("import dbleak.rules")
    assert [name.rsplit(".", 1)[0] for name in by_rules] == list(
        __import__("dbleak.analysis.project", fromlist=["x"]).SUMMARIZER_MODULES)
    assert order("from dbleak.analysis.project import load_summarizers\nload_summarizers()\n"
                 "import dbleak.rules") == by_rules
