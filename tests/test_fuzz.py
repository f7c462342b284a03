"""Standing fuzz checks (issue 17), bounded to run in CI in well under a minute.

Grammar-generated programs (hypothesmith) and database-shaped ones: checking raises nothing and
meets no internal error, every fix compiles, and a second fix changes nothing. The examples are
derandomized, so a run is repeatable; `benchmarks/fuzz.py` is the longer, random run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesmith")

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

from fuzz import check_program, database_programs, grammar_programs

BOUNDED = settings(deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@settings(BOUNDED, max_examples=400)
@given(database_programs())
def test_database_shaped_programs(text: str) -> None:
    check_program(text)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # generated code: `1()` and the like
@settings(BOUNDED, max_examples=200)
@given(grammar_programs())
def test_grammar_programs(text: str) -> None:
    check_program(text)
