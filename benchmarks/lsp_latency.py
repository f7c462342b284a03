"""Benchmark: how long `dbleak server` takes from didSave to publishDiagnostics.

    python benchmarks/lsp_latency.py [--lines 2000] [--warmup 5] [--rounds 30] [--no-findings]
                                     [--edit literal|line]

Starts the server as an editor would (a subprocess over stdio), opens a generated module of
realistic database code with several findings, then edits and saves it again and again and
measures the time from each didSave until its diagnostics arrive. Prints the median and the 90th
percentile after warm-up. Speed is measured here, never in a timed test.

Every save is honest: before it, the client sends a didChange (the server runs with
``lint-on-change`` off, so the change itself starts no lint) whose text the server has never
checked: one function's log message gets a new round number (``--edit literal``, the default),
or a new line is added to one function so every line below it moves (``--edit line``); the
function edited moves through the file from round to round. A server that caches results by text can therefore never
answer a save from its cache; it has to check the edited text. The diagnostics of each save are
compared with a full ``check_source`` of the same text in this process, so a fast but wrong
answer is reported as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

HEADER = '''\
"""Order service: reads and writes orders (generated for the dbleak latency benchmark)."""

import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass

import pandas as pd
import psycopg2

log = logging.getLogger(__name__)
DSN = "dbname=shop user=shop"


@dataclass
class Order:
    id: int
    customer: str
    total: float

'''

# Function templates: most are clean; some hold a finding of one rule family or another.
CLEAN = '''
def load_orders_{n}(path: str, customer: str) -> list[Order]:
    """The latest orders of one customer."""
    with closing(sqlite3.connect(path)) as conn:
        cursor = conn.execute(
            "SELECT id, customer, total FROM orders WHERE customer = ? "
            "ORDER BY id DESC LIMIT 100",
            (customer,),
        )
        rows = cursor.fetchmany(100)
    orders = [Order(*row) for row in rows]
    if not orders:
        log.debug("no orders for %s", customer)
    return orders

'''
WITH_DOES_NOT_CLOSE = '''
def record_event_{n}(path: str, kind: str) -> None:
    """Append one event to the audit log."""
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO events (kind) VALUES (?)", (kind,))
        log.info("recorded %s", kind)

'''
UNCLOSED_CONNECTION = '''
def count_customers_{n}() -> int:
    """How many customers there are."""
    conn = psycopg2.connect(DSN)
    cursor = conn.cursor()
    cursor.execute("SELECT count(*) FROM customers")
    (count,) = cursor.fetchone()
    return count

'''
UNBOUNDED_READ = '''
def export_orders_{n}(path: str, out) -> None:
    """Every order, for the nightly export."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT * FROM orders").fetchall()
        log.info("exporting orders")
        for row in rows:
            out.write(repr(row))

'''
READ_SQL = '''
def order_total_{n}(path: str) -> float:
    """The sum over the orders table, through a data frame."""
    with closing(sqlite3.connect(path)) as conn:
        frame = pd.read_sql("SELECT * FROM orders", conn)
    return float(frame["total"].sum())

'''
MATERIALIZED = '''
def total_{n}(path: str) -> float:
    """The sum over all orders."""
    with closing(sqlite3.connect(path)) as conn:
        rows = list(conn.execute("SELECT total FROM orders WHERE total > 0 LIMIT 1000"))
        return sum(row[0] for row in rows)

'''
CYCLE = (CLEAN, CLEAN, WITH_DOES_NOT_CLOSE, CLEAN, UNCLOSED_CONNECTION, CLEAN, UNBOUNDED_READ,
         CLEAN, READ_SQL, CLEAN, MATERIALIZED, CLEAN)


def generate(lines: int, findings: bool = True) -> str:
    """A module of about ``lines`` lines of database code (with findings, unless told)."""
    cycle = CYCLE if findings else (CLEAN,)
    parts = [HEADER]
    total = HEADER.count("\n")
    n = 0
    while total < lines:
        block = textwrap.dedent(cycle[n % len(cycle)]).format(n=n)
        parts.append(block)
        total += block.count("\n")
        n += 1
    return "".join(parts)


async def measure(lines: int, warmup: int, rounds: int, findings: bool, edit: str) -> None:
    client = LanguageClient("dbleak-latency-benchmark", "1")
    arrived = asyncio.Event()
    received: list[types.PublishDiagnosticsParams] = []

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        received.append(params)
        arrived.set()

    await client.start_io(sys.executable, "-m", "dbleak", "server")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / "orders.py"
        text = generate(lines, findings)
        path.write_text(text, encoding="utf-8")
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=root.as_uri(),
            initialization_options={"lint-on-change": False}))
        client.initialized(types.InitializedParams())
        uri = path.as_uri()
        arrived.clear()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                                 text=text)))
        await asyncio.wait_for(arrived.wait(), 120)
        timings: list[float] = []
        for round_ in range(warmup + rounds):
            text = (edited if edit == "literal" else line_added)(text, round_ * 7, round_)
            version = round_ + 2
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
            arrived.clear()
            start = time.perf_counter()
            client.text_document_did_save(types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=uri), text=None))
            await asyncio.wait_for(arrived.wait(), 120)
            elapsed = (time.perf_counter() - start) * 1000
            if received[-1].version != version:
                raise SystemExit(f"round {round_}: diagnostics for version "
                                 f"{received[-1].version}, expected {version}")
            if round_ >= warmup:
                timings.append(elapsed)
            if round_ % 5 == 0:  # spot-check exactness (outside the timed part)
                check_same(text, received[-1], round_)
        await client.shutdown_async(None)
        client.exit(None)
    await client.stop()
    findings = len(received[-1].diagnostics)
    codes = sorted({str(d.code) for d in received[-1].diagnostics})
    timings.sort()
    p90 = timings[min(len(timings) - 1, round(0.9 * (len(timings) - 1)))]
    print(f"file: {text.count(chr(10))} lines, {findings} diagnostics ({', '.join(codes)})")
    print(f"didSave -> publishDiagnostics over {rounds} saves after {warmup} warm-up saves "
          f"(edit: {edit}):")
    print(f"  median {statistics.median(timings):.1f} ms   p90 {p90:.1f} ms   "
          f"min {timings[0]:.1f} ms   max {timings[-1]:.1f} ms")
    engine = check_source_timings(text, min(rounds, 10))
    print(f"a full check_source of the last text, in this process (no server, no reuse): "
          f"median {statistics.median(engine):.1f} ms")


MESSAGE = re.compile(r"no orders(?: \(round \d+\))? for %s")


def edited(text: str, slot: int, round_: int) -> str:
    """``text`` with the ``slot``-th log message rewritten to carry round ``round_``'s number."""
    matches = list(MESSAGE.finditer(text))
    match = matches[slot % len(matches)]
    return f"{text[:match.start()]}no orders (round {round_}) for %s{text[match.end():]}"


ANCHOR = re.compile(r"\n    orders = \[Order\(\*row\) for row in rows\]\n")


def line_added(text: str, slot: int, round_: int) -> str:
    """``text`` with a line added after the ``slot``-th list of orders (later lines move)."""
    matches = list(ANCHOR.finditer(text))
    at = matches[slot % len(matches)].end()
    return f'{text[:at]}    log.debug("edit {round_}")\n{text[at:]}'


def check_same(text: str, params: types.PublishDiagnosticsParams, round_: int) -> None:
    """The published diagnostics must be exactly those of a full check of ``text``."""
    from dbleak.api import check_source

    expected = [(f.code, f.start.line - 1, f.message)
                for f in check_source(text, "orders.py").findings]
    got = [(str(d.code), d.range.start.line, d.message) for d in params.diagnostics]
    if got != expected:
        raise SystemExit(f"round {round_}: the server's diagnostics differ from a full check")


def check_source_timings(text: str, rounds: int) -> list[float]:
    """The time of the analysis itself, to tell the server's overhead from the engine's."""
    from dbleak.api import check_source

    check_source(text, "orders.py")
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        check_source(text, "orders.py")
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-findings", action="store_true",
                        help="a file without findings (shows the server's own overhead)")
    parser.add_argument("--edit", choices=("literal", "line"), default="literal",
                        help="the edit before each save: a changed string in one function, "
                             "or a line added to one function")
    args = parser.parse_args()
    asyncio.run(measure(args.lines, args.warmup, args.rounds, not args.no_findings, args.edit))


if __name__ == "__main__":
    main()
