"""The driver table as text: `dbleak drivers` and the generated `docs/drivers.md`."""

from __future__ import annotations

from dbleak.knowledge.drivers import (
    Buffering,
    DriverSpec,
    DriverTable,
    MethodSpec,
    ObjectSpec,
    WithSpec,
)

_CLOSING = {
    "closing": "`contextlib.closing(obj)`",
    "self": "its own `with`",
    "async-self": "its own `async with`",
    "try-finally": "`try: ... finally: obj.<release>()`",
    "pool": "the pool's context call / release",
}

_BUFFERING = {
    Buffering.CLIENT: "client-side: whole result in memory at the first row",
    Buffering.SERVER: "streaming: rows arrive as fetched",
    Buffering.LAZY: "lazy: rows produced one step at a time",
    Buffering.DRIVER: "as the underlying driver's cursor",
    Buffering.NONE: "—",
}


def describe_with(spec: WithSpec | None) -> str:
    """One phrase for what a `with` does (``not supported`` for None)."""
    if spec is None:
        return "not supported"
    parts = []
    if spec.commits:
        parts.append("commits")
    if spec.rolls_back:
        parts.append("work lost on error" if not spec.commits else "rolls back on error")
    if spec.releases_to_pool:
        parts.append("back to the pool")
    parts.append("closes" if spec.closes else "does not close")
    return ", ".join(parts)


def describe_release(spec: ObjectSpec) -> str:
    calls = [f"{'await ' if spec.release_awaited else ''}{name}()" for name in spec.release]
    calls += [f"pool.{name}(obj)" for name in spec.pool_release]
    text = " or ".join(calls) if calls else "—"
    if not spec.must_release:
        text += " (not required)"
    return text


def _method_text(table: DriverTable, method: MethodSpec) -> str:
    call = method.name if method.name != "__call__" else ""
    if method.name == "__getitem__":
        call_text = "obj[...]"
    else:
        args = []
        if method.when_argument:
            args.append(method.when_argument)
        if method.when_keyword:
            value = "..." if method.keyword_value is None else str(method.keyword_value)
            args.append(f"{method.when_keyword}={value}")
        call_text = f"{'obj.' + call if call else 'obj'}({', '.join(args)})"
    if method.awaited:
        call_text = "await " + call_text
    text = f"`{call_text}` → {method.returns}"
    if method.context_only:
        text += " (context manager only)"
    context = method.call_with or method.call_async_with
    if context is not None:
        word = "async with" if method.call_async_with is not None else "with"
        text += f"; `{word}` it: {describe_with(context)}"
    returned = table.objects.get(method.returns)
    if returned is not None and returned.kind.value == "cursor":
        cursor_with = returned.with_ or returned.async_with
        text += f"; cursor `with`: {describe_with(cursor_with)}"
    return text


def _cursor_summary(table: DriverTable, spec: ObjectSpec) -> str:
    methods = table.cursor_methods(spec.name)
    if not methods:
        return "—"
    seen: list[str] = []
    for method in methods:
        cursor = table.objects[method.returns]
        support = cursor.with_ or cursor.async_with
        entry = f"{cursor.name}: {'closes' if support and support.closes else 'no closing with'}"
        if entry not in seen:
            seen.append(entry)
    return "; ".join(seen)


def _proof(spec: ObjectSpec) -> str:
    return "proven" if spec.verified else "documented"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(table: DriverTable) -> str:
    """The whole table as Markdown (the content of docs/drivers.md)."""
    out: list[str] = [
        "# Database drivers",
        "",
        ("<!-- Generated from src/dbleak/knowledge/drivers.py by "
         "dbleak.knowledge.drivers_doc.render_markdown; do not edit. -->"),
        "",
        "What dbleak knows about each driver's objects: what releases them, what `with` /",
        "`async with` does to them, how to put a closing context around them, whether their",
        "cursors close in `with`, and how results are buffered.",
        "",
        "**proven** objects have every claim below checked against the real driver by",
        "`tests/drivers/` — SQLite, DuckDB and Django in-process; PostgreSQL (psycopg2, psycopg 3,",
        "psycopg_pool, asyncpg, SQLAlchemy, DBUtils's PooledDB, pyodbc over psqlODBC) and MariaDB",
        "(PyMySQL, MySQLdb, mysql-connector-python, aiomysql) on throwaway servers. **documented**",
        "objects (oracledb/cx_Oracle, pymssql, redshift_connector, Snowflake, Databricks) could",
        "not run here: their claims come from the documentation or source named in the",
        "Reference column.",
        "",
        "Buffering: *client-side* means the whole result is in client memory by the time the",
        "first row is read (for a server: it survives killing the server session right after",
        "`execute()`); *streaming* means it does not.",
        "",
        "Add your own factories and objects in `[tool.dbleak.drivers]` (see the end of this page).",
        "",
    ]
    for driver in table.drivers:
        out.extend(_driver_markdown(table, driver))
    out.extend([
        "## Borrowers and owners",
        "",
        "Functions that use a connection without taking it over (the caller still closes it):",
        "",
        *[f"- `{name}`" for name in sorted(table.borrowers)],
        "",
        "Functions that take it over (they, or their context, release it):",
        "",
        *[f"- `{name}`" for name in sorted(table.owners)],
        "",
        "`ExitStack.enter_context` (and the async variants) release an object through its own",
        "`with`: they close it only where that `with` closes — an `ExitStack` leaves a sqlite3 or",
        "psycopg2 connection open (proven in `tests/drivers/test_borrowers_owners.py`).",
        "",
        "## Your own drivers: `[tool.dbleak.drivers]`",
        "",
        "```toml",
        "[tool.dbleak.drivers]",
        "# A function of yours that returns an object of the table (or one of `objects` below).",
        'factories = { "myapp.db.connect" = "sqlite3.Connection",',
        '              "myapp.db.aconnect" = { returns = "asyncpg.Connection", awaited = true } }',
        "# Functions that use a connection without keeping it / that take it over.",
        'borrowers = ["myapp.db.run_report"]',
        'owners = ["myapp.db.register_for_shutdown"]',
        "",
        "# An object like a known one, with what differs (a wrapper whose `with` closes).",
        '[tool.dbleak.drivers.objects."myapp.db.Connection"]',
        'like = "sqlite3.Connection"',
        "with-closes = true",
        "```",
        "",
        "Object keys: `like` (required), `kind`, `release` (method names), `release-awaited`,",
        "`with-closes`, `async-with-closes`, `must-release`, `note`. An unknown key, an unknown",
        "object name or a name that is not a dotted Python name is a configuration error",
        "(exit code 2).",
        "",
    ])
    return "\n".join(out)


def _driver_markdown(table: DriverTable, driver: DriverSpec) -> list[str]:
    out = [f"## {driver.name}", ""]
    if driver.package:
        out.append(f"Package: {driver.package}. Docs: <{driver.docs}>" if driver.docs
                   else f"Package: {driver.package}.")
        out.append("")
    if driver.drop_ins:
        names = ", ".join(f"`{module}` ({package})" for module, package in driver.drop_ins)
        out.append(f"Drop-in replacements, read as `{driver.modules[0]}` (`tests/drivers/"
                   f"test_drop_ins.py` checks them): {names}.")
        out.append("")
    other_names = [(alias, target) for alias, target in driver.module_aliases
                   if alias.partition(".")[0] not in driver.modules[:1]]
    if other_names:
        names = ", ".join(f"`{alias}` as `{target}`" for alias, target in other_names)
        out.append(f"Read as this driver's own: {names}.")
        out.append("")
    if driver.note:
        out.append(driver.note)
        out.append("")
    out.extend([
        "| object | kind | release | `with` | `async with` | closing context | cursors | buffering | claims |",
        "|---|---|---|---|---|---|---|---|---|",
    ])
    for spec in driver.objects:
        out.append("| " + " | ".join(_cell(c) for c in (
            f"`{spec.name}`", spec.kind.value, describe_release(spec), describe_with(spec.with_),
            describe_with(spec.async_with), _CLOSING.get(spec.closing_context, spec.closing_context),
            _cursor_summary(table, spec), _BUFFERING[spec.buffering], _proof(spec),
        )) + " |")
    out.append("")
    if driver.factories:
        out.append("Factories:")
        out.append("")
        for factory in driver.factories:
            text = f"- `{'await ' if factory.awaited else ''}{factory.qualname}(...)"
            text += f"` → {factory.returns}"
            if factory.when_keyword:
                text += f" (with `{factory.when_keyword}=`)"
            context = factory.call_with or factory.call_async_with
            if context is not None:
                word = "async with" if factory.call_async_with is not None else "with"
                text += f"; `{word}` the call: {describe_with(context)}"
            if factory.held:
                text += "; kept and released by the factory itself (its caller owes no release)"
            if factory.note:
                text += f" — {factory.note}"
            out.append(text)
        out.append("")
    if driver.instances:
        out.append("Module-level objects:")
        out.append("")
        out.extend(f"- `{name}` is a {target}" for name, target in driver.instances)
        out.append("")
    details = [spec for spec in driver.objects if spec.methods or spec.note or spec.reference]
    for spec in details:
        out.append(f"**{spec.name}** ({_proof(spec)})")
        out.append("")
        for method in spec.methods:
            out.append(f"- {_method_text(table, method)}")
        if spec.same_object:
            out.append(f"- returns itself: {', '.join(f'`{m}(...)`' for m in spec.same_object)}")
        if spec.takes_back:
            out.append(f"- takes connections back: {', '.join(f'`{m}(conn)`' for m in spec.takes_back)}")
        for with_spec, word in ((spec.with_, "with"), (spec.async_with, "async with")):
            if with_spec is not None and with_spec.note:
                out.append(f"- `{word}`: {with_spec.note}")
        if spec.note:
            out.append(f"- {spec.note}")
        if spec.reference:
            out.append(f"- Reference: {spec.reference}")
        out.append("")
    return out


def render_text(table: DriverTable, driver_name: str | None = None) -> str:
    """The table for a terminal (`dbleak drivers [NAME]`)."""
    out: list[str] = []
    for driver in table.drivers:
        if driver_name is not None and driver.name != driver_name:
            continue
        out.append(f"{driver.name}  ({driver.package})" if driver.package else driver.name)
        for spec in driver.objects:
            out.append(f"  {spec.name}  [{spec.kind.value}, {_proof(spec)}]")
            rows = [
                ("release", describe_release(spec)),
                ("with", describe_with(spec.with_)),
                ("async with", describe_with(spec.async_with)),
                ("closing", _CLOSING.get(spec.closing_context, spec.closing_context)),
                ("cursors", _cursor_summary(table, spec)),
                ("buffering", _BUFFERING[spec.buffering]),
            ]
            for label, value in rows:
                out.append(f"      {label + ':':<12}{value}")
            for method in spec.methods:
                out.append(f"      {'makes:':<12}{_method_text(table, method).replace('`', '')}")
            if spec.note:
                out.append(f"      {'note:':<12}{spec.note}")
        for factory in driver.factories:
            suffix = f" (with {factory.when_keyword}=)" if factory.when_keyword else ""
            out.append(f"  factory {'await ' if factory.awaited else ''}{factory.qualname}(...)"
                       f" -> {factory.returns}{suffix}")
        out.append("")
    user_factories = [f for f in table.factories.values()
                      if not any(f in d.factories for d in table.drivers)]
    if driver_name is None and user_factories:
        out.append("from [tool.dbleak.drivers]")
        for factory in user_factories:
            out.append(f"  factory {'await ' if factory.awaited else ''}{factory.qualname}(...)"
                       f" -> {factory.returns}")
        out.append("")
    return "\n".join(out)
