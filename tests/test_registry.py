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
