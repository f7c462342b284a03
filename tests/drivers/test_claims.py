"""Every claim of the driver table about a verified object, checked against the real driver.

The test ids are the claims: ``psycopg2.connection:with``, ``pymysql.SSCursor:buffering``,
``sqlalchemy.Engine:method:begin`` ... Change a claim in the table and its test fails.
"""

from __future__ import annotations

import asyncio
import sys
import inspect
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Awaitable, Callable

import pytest

from dbleak.knowledge.drivers import (
    Buffering,
    FactorySpec,
    MethodSpec,
    ObjectSpec,
    WithSpec,
    builtin_table,
)

import driver_probes  # noqa: F401  (registers every probe)
from driver_probing import PROBES, Env, Probe, maybe, new_marker, resolve
from driver_probes import FACTORY_CALLS, need_driver

TABLE = builtin_table()


@dataclass(frozen=True)
class Claim:
    subject: str  # object name or factory qualname
    what: str
    method: MethodSpec | None = None
    factory: FactorySpec | None = None

    @property
    def id(self) -> str:
        return f"{self.subject}:{self.what}"


def _variant(method: MethodSpec) -> str:
    if method.when_keyword is not None:
        value = "" if method.keyword_value is None else f"={method.keyword_value}"
        return f"[{method.when_keyword}{value}]"
    if method.when_argument is not None:
        return f"[{method.when_argument}]"
    return ""


def table_claims() -> list[Claim]:
    claims: list[Claim] = []
    for spec in TABLE.iter_objects():
        if not spec.verified:
            continue
        claims.append(Claim(spec.name, "class"))
        claims.append(Claim(spec.name, "with"))
        claims.append(Claim(spec.name, "async-with"))
        claims.extend(Claim(spec.name, f"release:{m}") for m in spec.release)
        claims.extend(Claim(spec.name, f"pool-release:{m}") for m in spec.pool_release)
        claims.extend(Claim(spec.name, f"same-object:{m}") for m in spec.same_object)
        if spec.buffering is not Buffering.NONE:
            claims.append(Claim(spec.name, "buffering"))
        for method in spec.methods:
            name = f"method:{method.name}{_variant(method)}"
            claims.append(Claim(spec.name, name, method=method))
            if method.call_with is not None or method.call_async_with is not None:
                claims.append(Claim(spec.name, name + ":with", method=method))
    for driver in TABLE.drivers:
        for factory in driver.factories:
            if not TABLE.object(factory.returns).verified:
                continue
            variant = f"[{factory.when_keyword}]" if factory.when_keyword else ""
            claims.append(Claim(factory.qualname, "factory" + variant, factory=factory))
            if factory.call_with is not None or factory.call_async_with is not None:
                claims.append(Claim(factory.qualname, "factory:with", factory=factory))
    return claims


CLAIMS = table_claims()


class Boom(Exception):
    pass


class _SyncAsAsync:
    """`async with` over a sync context manager: calls __enter__/__exit__ exactly as `with` does."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    async def __aenter__(self) -> Any:
        return type(self.manager).__enter__(self.manager)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> Any:
        return type(self.manager).__exit__(self.manager, exc_type, exc, tb)


def _block(manager: Any, is_async: bool) -> Any:
    return manager if is_async else _SyncAsAsync(manager)


@dataclass
class Observed:
    closes: bool
    releases_to_pool: bool
    commits: bool | None
    rolls_back: bool | None


Enter = Callable[[], Awaitable[tuple[Probe, Any]]]


async def observe_block(enter: Enter, is_async: bool) -> Observed:
    """Run a clean block and a raising block; observe what each leaves behind."""
    probe, manager = await enter()
    marker = new_marker()
    async with _block(manager, is_async) as bound:
        if probe.can_write:
            await maybe(probe.write(bound, marker))
    closes = bool(await maybe(probe.closed(bound)))
    returned = bool(await maybe(probe.returned(bound)))
    commits = bool(await maybe(probe.visible(marker))) if probe.can_write else None
    await maybe(probe.finish(bound))

    probe, manager = await enter()
    marker = new_marker()
    rolls_back = None
    try:
        async with _block(manager, is_async) as bound:
            if probe.can_write:
                await maybe(probe.write(bound, marker))
            raise Boom
    except Boom:
        pass
    if probe.can_write:
        await maybe(probe.finish(bound))  # commits what the block left pending
        rolls_back = not await maybe(probe.visible(marker))
    return Observed(closes, returned, commits, rolls_back)


def assert_matches(claim: WithSpec, seen: Observed) -> None:
    assert seen.closes == claim.closes, f"closes: table says {claim.closes}, driver does {seen.closes}"
    assert seen.releases_to_pool == claim.releases_to_pool, (
        f"releases_to_pool: table says {claim.releases_to_pool}, driver does {seen.releases_to_pool}")
    if seen.commits is None:
        assert not claim.commits, "the table claims a commit that this probe cannot write to prove"
        return
    assert seen.commits == claim.commits, f"commits: table says {claim.commits}, driver does {seen.commits}"
    assert seen.rolls_back == claim.rolls_back, (
        f"rolls_back: table says {claim.rolls_back}, driver does {seen.rolls_back}")


def _classes(spec: ObjectSpec) -> tuple[type, ...]:
    """The importable classes of a spec (a C extension may not load here: at least one must)."""
    found = []
    for name in spec.classes:
        try:
            found.append(resolve(name))
        except (ImportError, AttributeError):
            continue
    assert found, f"none of {spec.classes} can be imported"
    return tuple(found)


async def _bound(result: Any, method: MethodSpec) -> tuple[Any, Any]:
    """The object a method call gives, and the context manager to exit (context-only calls)."""
    if method.context_only:
        if method.call_async_with is not None:
            return await type(result).__aenter__(result), result
        return type(result).__enter__(result), result
    if method.awaited:
        assert inspect.isawaitable(result), f"{method.name}() is not awaitable"
        return await result, None
    return result, None


async def _leave(manager: Any, method: MethodSpec) -> None:
    if manager is None:
        return
    if method.call_async_with is not None:
        await type(manager).__aexit__(manager, None, None, None)
    else:
        type(manager).__exit__(manager, None, None, None)


async def check(claim: Claim, env: Env) -> None:
    if claim.factory is not None:
        await check_factory(claim, claim.factory, env)
        return
    spec = TABLE.object(claim.subject)
    assert spec.name in PROBES, f"{spec.name} is marked verified but has no probe"
    what = claim.what
    if what == "class":
        probe = PROBES[spec.name](env)
        obj = await maybe(probe.open())
        assert isinstance(obj, _classes(spec)), f"{type(obj)} is not one of {spec.classes}"
        await maybe(probe.finish(obj))
    elif what in ("with", "async-with"):
        await check_with(spec, env, is_async=what == "async-with")
    elif what.startswith("release:"):
        probe = PROBES[spec.name](env)
        obj = await maybe(probe.open_for_release())
        assert not await maybe(probe.closed(obj))
        result = getattr(obj, what.split(":", 1)[1])()
        if spec.release_awaited:
            assert inspect.isawaitable(result), "the table says release is awaited; it is not"
            await result
        else:
            assert not inspect.iscoroutine(result), "the table says release is not awaited; it is"
        assert await maybe(probe.closed(obj)), f"{what} did not release the object"
        await maybe(probe.finish(obj))
    elif what.startswith("same-object:"):
        probe = PROBES[spec.name](env)
        obj = await maybe(probe.open())
        result = await maybe(getattr(obj, what.split(":", 1)[1])())
        assert result is obj, f"{what} returned {type(result)}, not the object itself"
        await maybe(probe.finish(obj))
    elif what.startswith("pool-release:"):
        probe = PROBES[spec.name](env)
        obj = await maybe(probe.open())
        assert not await maybe(probe.returned(obj))
        await maybe(getattr(probe.pool, what.split(":", 1)[1])(obj))  # type: ignore[attr-defined]
        assert await maybe(probe.returned(obj)), f"{what} did not give the connection back"
        await maybe(probe.finish(obj))
    elif what == "buffering":
        observed = await maybe(PROBES[spec.name](env).buffering())
        assert observed == spec.buffering, f"table says {spec.buffering}, driver does {observed}"
    elif what.startswith("method:"):
        assert claim.method is not None
        if what.endswith(":with"):
            await check_method_with(spec, claim.method, env)
        else:
            await check_method(spec, claim.method, env)
    else:  # pragma: no cover
        raise AssertionError(what)


async def check_with(spec: ObjectSpec, env: Env, is_async: bool) -> None:
    claim = spec.async_with if is_async else spec.with_
    if claim is None:
        probe = PROBES[spec.name](env)
        obj = await maybe(probe.open())
        if is_async:
            # Not only TypeError: an awaited aiosqlite or SQLAlchemy async connection refuses
            # `async with` with its own error (RuntimeError, InvalidRequestError).
            with pytest.raises(Exception):
                async with obj:
                    pass
        else:
            # RuntimeError: aiomysql's pool refuses a plain `with` on purpose.
            with pytest.raises(Exception):
                with obj:
                    pass
        await maybe(probe.finish(obj))
        return

    async def enter() -> tuple[Probe, Any]:
        probe = PROBES[spec.name](env)
        return probe, await maybe(probe.open())

    assert_matches(claim, await observe_block(enter, is_async))


async def check_method(spec: ObjectSpec, method: MethodSpec, env: Env) -> None:
    parent_probe = PROBES[spec.name](env)
    parent = await maybe(parent_probe.open())
    result = parent_probe.call(parent, method)
    if not method.awaited and not method.context_only:
        assert not inspect.iscoroutine(result), f"{method.name}() must be awaited"
    bound, manager = await _bound(result, method)
    returns = TABLE.object(method.returns)
    if returns.classes:  # a generic DB-API object names no class
        assert isinstance(bound, _classes(returns)), f"{type(bound)} is not one of {returns.classes}"
    await _leave(manager, method)
    if returns.pool_release and manager is None:  # give a pooled connection back first
        await maybe(getattr(parent, returns.pool_release[0])(bound))
    await maybe(parent_probe.finish(parent))


async def check_method_with(spec: ObjectSpec, method: MethodSpec, env: Env) -> None:
    is_async = method.call_async_with is not None
    claim = method.call_async_with if is_async else method.call_with
    assert claim is not None

    async def enter() -> tuple[Probe, Any]:
        parent_probe = PROBES[spec.name](env)
        parent = await maybe(parent_probe.open())
        return parent_probe.child(method, parent), parent_probe.call(parent, method)

    assert_matches(claim, await observe_block(enter, is_async))


async def check_factory(claim: Claim, factory: FactorySpec, env: Env) -> None:
    assert factory.qualname in FACTORY_CALLS, f"no probe calls {factory.qualname}"
    call = FACTORY_CALLS[factory.qualname]
    returns = TABLE.object(factory.returns)
    if claim.what == "factory:with":
        is_async = factory.call_async_with is not None
        with_claim = factory.call_async_with if is_async else factory.call_with
        assert with_claim is not None

        async def enter() -> tuple[Probe, Any]:
            return PROBES[returns.name](env), call(env, factory)

        assert_matches(with_claim, await observe_block(enter, is_async))
        return
    assert callable(resolve(factory.qualname))
    result = call(env, factory)
    if factory.awaited:
        assert inspect.isawaitable(result), f"{factory.qualname}() is not awaitable"
        result = await result
    else:
        assert not inspect.iscoroutine(result), f"{factory.qualname}() must be awaited"
    assert isinstance(result, _classes(returns)), f"{type(result)} is not one of {returns.classes}"
    await maybe(PROBES[returns.name](env).finish(result))


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim(claim: Claim, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    need_driver(TABLE.object(claim.factory.returns if claim.factory else claim.subject).driver)
    env = Env(request, tmp_path)

    async def run() -> None:
        try:
            await check(claim, env)
        finally:
            await env.close()

    asyncio.run(run())


def test_every_verified_object_has_a_probe() -> None:
    missing = [s.name for s in TABLE.iter_objects() if s.verified and s.name not in PROBES]
    assert not missing


def test_every_unverified_object_names_its_source() -> None:
    for spec in TABLE.iter_objects():
        if not spec.verified:
            assert spec.reference, f"{spec.name}: unverified claims must name their documentation"


@pytest.mark.parametrize("wrong", [
    ("sqlite3.Connection", "with_", WithSpec(closes=True, commits=True, rolls_back=True)),
    ("sqlite3.Connection", "with_", WithSpec(closes=False, commits=False, rolls_back=True)),
    ("sqlite3.Cursor", "buffering", Buffering.CLIENT),
    ("sqlite3.Cursor", "with_", WithSpec(closes=True)),
    ("duckdb.DuckDBPyConnection", "release", ("close", "dispose")),
    ("MySQLdb.Connection", "with_", WithSpec(closes=False, commits=True, rolls_back=True)),
    ("MySQLdb.SSCursor", "buffering", Buffering.CLIENT),
    ("pyodbc.Connection", "with_", WithSpec(closes=True, rolls_back=True)),
    ("pyodbc.Cursor", "with_", WithSpec(closes=True, commits=True)),
    ("pyodbc.Cursor", "buffering", Buffering.CLIENT),
    ("sqlalchemy.Connection", "same_object", ("begin",)),
], ids=lambda w: f"{w[0]}.{w[1]}")
def test_a_wrong_claim_fails(wrong: tuple[str, str, Any], monkeypatch: pytest.MonkeyPatch,
                             request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The harness is not vacuous: a table with one claim changed fails its test."""
    import dataclasses

    name, field_name, value = wrong
    need_driver(TABLE.object(name).driver)
    objects = dict(TABLE.objects)
    objects[name] = dataclasses.replace(objects[name], **{field_name: value})
    monkeypatch.setattr(sys.modules[__name__], "TABLE", dataclasses.replace(TABLE, objects=objects))
    what = {"with_": "with", "buffering": "buffering", "release": "release:dispose",
            "same_object": "same-object:begin"}[field_name]
    env = Env(request, tmp_path)

    async def run() -> None:
        try:
            await check(Claim(name, what), env)
        finally:
            await env.close()

    with pytest.raises((AssertionError, pytest.fail.Exception, AttributeError)):
        asyncio.run(run())
