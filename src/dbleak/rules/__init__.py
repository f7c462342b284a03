"""The rules, one module each. ``RULES`` is the registry's source: add new rules here."""

from __future__ import annotations

from dbleak.rules.base import Rule
from dbleak.rules.dbl104_with_does_not_close import WithDoesNotClose
from dbleak.rules.dbl201_unbounded_fetchall import UnboundedFetchall
from dbleak.rules.dbl204_read_sql_without_chunksize import ReadSqlWithoutChunksize
from dbleak.rules.dbl205_client_side_cursor_streaming import ClientSideCursorStreaming
from dbleak.rules.dbl301_materialized_generator import MaterializedGenerator

RULES: tuple[type[Rule], ...] = (
    WithDoesNotClose,
    UnboundedFetchall,
    ReadSqlWithoutChunksize,
    ClientSideCursorStreaming,
    MaterializedGenerator,
)
