"""Checking in worker processes gives exactly what checking in one process gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dbleak.api import RunOptions, check_paths
from dbleak.settings import ConfigResolver

FIXTURES = Path(__file__).parent / "fixtures"


def _run(root: Path, monkeypatch: pytest.MonkeyPatch, jobs: str, fix: bool = False):
    monkeypatch.setenv("DBLEAK_JOBS", jobs)
    resolver = ConfigResolver(isolated=True)
    results = list(check_paths([root], resolver.for_path, RunOptions(fix=fix, diff=fix)))
    return [(r.result.path, [(f.code, f.start, f.end, f.message) for f in r.result.findings],
             r.fixed) for r in results]


def test_workers_find_and_fix_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES, tree)
    one = _run(tree, monkeypatch, "1")
    two = _run(tree, monkeypatch, "2")
    assert len(one) > 100  # enough files for the workers to share
    assert one == two
    assert sum(len(findings) for _, findings, _ in one) > 100
    assert _run(tree, monkeypatch, "1", fix=True) == _run(tree, monkeypatch, "2", fix=True)
