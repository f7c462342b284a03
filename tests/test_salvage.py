"""A module that does not parse as a whole still gives the summary of what parses in it."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from dbleak.analysis.salvage import salvage_module
from dbleak.api import RunOptions, check_paths
from dbleak.settings import settings_from_table

PYTHON2_MANAGER = textwrap.dedent("""\
    # A module of Python 2 code.
    from sqlalchemy.orm import sessionmaker

    Session = sessionmaker()


    class Manager(object):
        def report(self):
            print 'done'


    @decorated
    def helper():
        return Session()
    """)


def test_the_statements_that_parse_are_kept_at_their_lines() -> None:
    tree = salvage_module(PYTHON2_MANAGER)
    assert tree is not None
    kept = {type(s).__name__: s.lineno for s in tree.body}
    assert kept == {"ImportFrom": 2, "Assign": 4, "FunctionDef": 13}
    function = tree.body[-1]
    assert isinstance(function, ast.FunctionDef) and function.decorator_list  # kept together
    assert not any(isinstance(s, ast.ClassDef) for s in tree.body)  # the Python 2 one


def test_continuation_keywords_stay_with_their_statement() -> None:
    tree = salvage_module("try:\n    import a\nexcept ImportError:\n    a = None\nprint 'x'\n")
    assert tree is not None
    assert [type(s).__name__ for s in tree.body] == ["Try"]


def test_nothing_parses() -> None:
    assert salvage_module("print 'a'\nprint 'b'\n") is None


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "with-the-package"])
def test_a_factory_of_a_python2_module_is_known(tmp_path: Path, alone: bool) -> None:
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "manager.py").write_text(PYTHON2_MANAGER)
    (package / "db.py").write_text(textwrap.dedent("""\
        from .manager import Session


        def vacuum():
            session = Session()
            session.execute("VACUUM")
            session.commit()
            session.close()
        """))
    settings = settings_from_table({"select": ["DBL1"]}, tmp_path / "dbleak.toml")
    paths = [package / "db.py"] if alone else [package]
    results = check_paths(paths, lambda _p: settings, RunOptions())
    found = {(Path(r.result.path).name, f.start.line, f.code)
             for r in results for f in r.result.findings if r.result.path.endswith("db.py")}
    assert found == {("db.py", 5, "DBL103")}


def test_the_module_itself_is_still_reported_unparsable(tmp_path: Path) -> None:
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "manager.py").write_text(PYTHON2_MANAGER)
    settings = settings_from_table({}, tmp_path / "dbleak.toml")
    results = check_paths([package], lambda _p: settings, RunOptions())
    found = {(Path(r.result.path).name, f.start.line, f.code)
             for r in results for f in r.result.findings}
    assert ("manager.py", 9, "DBL001") in found


def test_a_class_keeps_the_members_that_parse() -> None:
    # osf.io's `AbstractNode`: one method calls `update(..., async=False)` (a keyword before
    # Python 3.7), the fields above it still say what the model relates to.
    text = textwrap.dedent("""\
        from django.db import models


        @register
        class AbstractNode(Base,
                           Mixin):
            \"\"\"A node.\"\"\"

            owner = models.ForeignKey("User", on_delete=models.CASCADE)
            title = models.TextField()

            def update_search(self):
                index(self, async=False)

            @property
            def url(self):
                return "/" + self.title
        """)
    tree = salvage_module(text)
    assert tree is not None
    (klass,) = [s for s in tree.body if isinstance(s, ast.ClassDef)]
    assert klass.name == "AbstractNode" and klass.lineno == 5 and len(klass.decorator_list) == 1
    assert [b.id for b in klass.bases] == ["Base", "Mixin"]  # type: ignore[attr-defined]
    kept = [(type(s).__name__, s.lineno) for s in klass.body]
    assert kept == [("Expr", 7), ("Assign", 9), ("Assign", 10), ("FunctionDef", 16)]
    url = klass.body[-1]
    assert isinstance(url, ast.FunctionDef) and url.decorator_list and url.col_offset == 4
