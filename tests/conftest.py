from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A folder with one leaky and one clean module (the command-line tests' usual input)."""
    from cli_session import CLEAN, LEAKY

    (tmp_path / "leaky.py").write_text(LEAKY)
    (tmp_path / "clean.py").write_text(CLEAN)
    return tmp_path
