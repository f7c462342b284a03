"""Reliability (issue 17): no traceback, no hang, no forked file, no orphan process, linear work."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

from scaling import generate  # noqa: E402

from dbleak.api import check_source  # noqa: E402


def _calls(text: str) -> int:
    """Python-level function calls made by one check (deterministic, unlike a time)."""
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        check_source(text, "bench.py")
    finally:
        sys.setprofile(None)
    return count


def test_checking_work_grows_linearly_with_leaks_and_lines() -> None:
    check_source(generate(300, True)[0], "bench.py")  # first-use caches out of the count
    small, small_leaks = generate(600, True)
    large, large_leaks = generate(2400, True)
    assert large_leaks >= 4 * small_leaks - 2
    # Four times the lines and the leaks: about four times the work, not sixteen (it was ~14
    # when each leak's fix plan walked the whole module to see whether `closing` was free).
    assert _calls(large) < 5 * _calls(small)
