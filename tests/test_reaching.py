"""The values a name may hold where it is read (analysis/reaching.py)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from dbleak.analysis.module import collect_facts
from dbleak.analysis.reaching import reaching_values
from dbleak.knowledge.drivers import builtin_table


def _values(source: str) -> list[str] | None:
    """The values of the name read by the last `use(...)` call of the first function."""
    tree = ast.parse(textwrap.dedent(source))
    facts = collect_facts(tree, builtin_table())
    function = tree.body[0]
    call = [n for n in ast.walk(function) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id == "use"][-1]
    use = call.args[0]
    assert isinstance(use, ast.Name)
    found = reaching_values(use, function, facts)
    return None if found is None else sorted(ast.unparse(v) for v in found)


def test_straight_line_refinements_are_spelled_out() -> None:
    assert _values("""
        def f():
            q = M.objects.all()
            q = q.filter(a=1)
            q = q[:10]
            use(q)
    """) == ["M.objects.all().filter(a=1)[:10]"]


def test_an_if_without_else_keeps_both_paths() -> None:
    assert _values("""
        def f(limit):
            q = M.objects.all()
            if limit:
                q = q[:limit]
            use(q)
    """) == ["M.objects.all()", "M.objects.all()[:limit]"]


def test_an_if_with_else_replaces() -> None:
    assert _values("""
        def f(limit):
            q = M.objects.all()
            if limit:
                q = q[:limit]
            else:
                q = q[:5]
            use(q)
    """) == ["M.objects.all()[:5]", "M.objects.all()[:limit]"]


def test_a_parameter_is_itself() -> None:
    assert _values("""
        def f(q):
            if q is None:
                q = M.objects.all()
            use(q)
    """) == ["M.objects.all()", "q"]


def test_the_use_inside_a_branch_sees_that_branch() -> None:
    assert _values("""
        def f(flag):
            q = M.objects.all()
            if flag:
                q = q.filter(a=1)
                use(q)
            q = None
    """) == ["M.objects.all().filter(a=1)"]


@pytest.mark.parametrize("body", [
    # a later turn of the loop reads the later binding
    """
    q = M.objects.all()
    for x in xs:
        use(q)
        q = q.filter(x=x)
    """,
    # a handler runs after any part of its `try`
    """
    try:
        q = M.objects.get(pk=1)
    except Exception:
        q = None
    use(q)
    """,
    # bindings it does not spell as one value
    """
    q, r = M.objects.all(), None
    use(q)
    """,
    """
    q = M.objects.all()
    q += extra
    use(q)
    """,
    """
    q = M.objects.all()
    with open(p) as q:
        pass
    use(q)
    """,
])
def test_what_it_cannot_read_gives_up(body: str) -> None:
    source = "def f(xs, p, extra):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    assert _values(source) is None


def test_a_closure_reads_at_call_time() -> None:
    assert _values("""
        def f():
            q = M.objects.all()
            def later():
                use(q)
            q = None
    """) is None


def test_a_comprehension_target_of_the_same_name_is_another_scope() -> None:
    assert _values("""
        def f():
            q = M.objects.all()
            names = [q for q in range(3)]
            use(q)
    """) == ["M.objects.all()"]
