"""The probe framework: how a test observes what a real driver object does.

A probe knows, for one object of the driver table, how to make one (`open`), whether it is
closed (`closed`, cross-checked on the server where there is one) or back in its pool
(`returned`), how to write through it (`write`) and whether that write is visible from an
independent connection (`visible`), and which buffering a cursor of that kind really has
(`buffering`). The claims of the table are then checked generically in `test_claims.py`.
Every probe method may be a coroutine; the tests await what needs awaiting.
"""

from __future__ import annotations

import importlib
import inspect
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, ClassVar

import pytest

from dbleak.knowledge.drivers import Buffering, MethodSpec

PROBES: dict[str, type["Probe"]] = {}


def probe(name: str) -> Callable[[type["Probe"]], type["Probe"]]:
    """Register a probe class for the table object ``name``."""

    def register(cls: type["Probe"]) -> type["Probe"]:
        cls.spec = name
        PROBES[name] = cls
        return cls

    return register


async def maybe(value: Any) -> Any:
    """Await ``value`` when it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


def new_marker() -> str:
    return uuid.uuid4().hex


def resolve(qualname: str) -> Any:
    """Import ``a.b.C`` (a module path followed by attributes)."""
    parts = qualname.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            value = getattr(value, attr)
        return value
    raise ImportError(qualname)


def wait_until(predicate: Callable[[], bool], seconds: float = 15.0) -> bool:
    """Poll a server-side condition that follows a client action (a backend exits a moment
    later). A deadline, not a number of attempts: on a loaded CI machine a terminated backend
    that was streaming a large result took longer than the former 200 × 20 ms to go."""
    deadline = time.monotonic() + seconds
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


class Env:
    """What probes share in one test: a temp folder and (lazily) the servers."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request = request
        self.tmp = tmp_path
        self.cleanups: list[Callable[[], Any]] = []

    def server(self, name: str) -> Any:
        return self.request.getfixturevalue(f"{name}_server")

    async def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            try:
                await maybe(cleanup())
            except Exception:  # cleanup of an object the test already broke
                pass


class Probe:
    """How to observe one kind of object. Subclasses override what applies."""

    spec: ClassVar[str] = ""
    # Arguments for methods that need some (``execute``), by method name.
    method_args: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init__(self, env: Env, parent: Any = None, parent_probe: "Probe | None" = None) -> None:
        self.env = env
        self.parent = parent
        self.parent_probe = parent_probe

    @property
    def can_write(self) -> bool:
        """Whether a write can go through the object (the probe defines `write`)."""
        return type(self).write is not Probe.write and not getattr(self, "read_only", False)

    # --- making and observing ---------------------------------------------------------------
    def open(self) -> Any | Awaitable[Any]:
        raise NotImplementedError

    def open_for_release(self) -> Any | Awaitable[Any]:
        """The object ready for its release call (a transaction: started)."""
        return self.open()

    def closed(self, obj: Any) -> bool | Awaitable[bool]:
        raise NotImplementedError

    def returned(self, obj: Any) -> bool | Awaitable[bool]:
        """Back in its pool (only pooled objects)."""
        return False

    def write(self, obj: Any, marker: str) -> Any:
        raise NotImplementedError

    def visible(self, marker: str) -> bool | Awaitable[bool]:
        raise NotImplementedError

    def finish(self, obj: Any) -> Any:
        """Commit what is left if still open, then release everything (the env cleans up too)."""

    def buffering(self) -> Buffering | Awaitable[Buffering]:
        raise NotImplementedError(f"no buffering probe for {self.spec}")

    # --- making children -----------------------------------------------------------------------
    def call(self, obj: Any, method: MethodSpec) -> Any:
        """Call ``obj.<method>(...)`` the way the method spec describes (not awaited)."""
        args: list[Any] = list(self.method_args.get(method.name, ()))
        kwargs: dict[str, Any] = {}
        if method.when_argument is not None:
            args.insert(0, resolve(method.when_argument))
        if method.when_keyword is not None:
            kwargs[method.when_keyword] = (method.keyword_value if method.keyword_value is not None
                                           else "dbleak_" + new_marker()[:8])
        target = obj if method.name == "__call__" else getattr(obj, method.name)
        if method.name == "__getitem__":
            return obj[args[0] if args else "default"]
        return target(*args, **kwargs)

    def child(self, method: MethodSpec, parent: Any) -> "Probe":
        """The probe of the object a method returns, knowing its parent."""
        return PROBES[method.returns](self.env, parent=parent, parent_probe=self)
