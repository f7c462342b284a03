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


@pytest.fixture(autouse=True)
def _cache_outside_the_repository(monkeypatch: pytest.MonkeyPatch,
                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test's runs keep their cache in a folder of their own, never in the repository or
    beside the fixtures (``tests/test_cache.py`` says where a run puts it by default)."""
    monkeypatch.setenv("DBLEAK_CACHE_DIR", str(tmp_path_factory.mktemp("dbleak_cache")))


@pytest.fixture()
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files a test's runs analyse (those the cache, its entries or the
    record of a run, does not answer)."""
    import dbleak.api

    seen: list[str] = []
    real = dbleak.api.check_bytes

    def spy(data: bytes, path: str, *args: object, **kwargs: object) -> object:
        seen.append(Path(path).name)
        return real(data, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dbleak.api, "check_bytes", spy)
    return seen
