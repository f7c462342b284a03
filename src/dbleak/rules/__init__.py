"""The rules, one module each. ``RULES`` is the registry's source: add new rules here."""

from __future__ import annotations

from dbleak.rules.base import Rule
from dbleak.rules.dbl003_unused_noqa import UnusedNoqa
from dbleak.rules.dbl101_unclosed_connection import UnclosedConnection
from dbleak.rules.dbl102_unclosed_cursor import UnclosedCursor
from dbleak.rules.dbl103_close_skipped_on_exception import CloseSkippedOnException
from dbleak.rules.dbl104_with_does_not_close import WithDoesNotClose
from dbleak.rules.dbl106_owner_never_closes import OwnerNeverCloses
from dbleak.rules.dbl108_module_level_connection import ModuleLevelConnection
from dbleak.rules.dbl201_unbounded_fetchall import UnboundedFetchall
from dbleak.rules.dbl202_unbounded_orm_all import UnboundedOrmAll
from dbleak.rules.dbl203_unbounded_queryset_list import UnboundedQuerysetList
from dbleak.rules.dbl204_read_sql_without_chunksize import ReadSqlWithoutChunksize
from dbleak.rules.dbl205_client_side_cursor_streaming import ClientSideCursorStreaming
from dbleak.rules.dbl301_materialized_generator import MaterializedGenerator
from dbleak.rules.dbl302_materialized_cursor import MaterializedCursor
from dbleak.rules.dbl303_len_of_materialized import LenOfMaterialized
from dbleak.rules.dbl304_first_of_materialized import FirstOfMaterialized
from dbleak.rules.dbl305_fetchall_iterated_once import FetchallIteratedOnce
from dbleak.rules.dbl306_queryset_evaluated_for_count import QuerysetEvaluatedForCount

RULES: tuple[type[Rule], ...] = (
    UnusedNoqa,
    UnclosedConnection,
    UnclosedCursor,
    CloseSkippedOnException,
    WithDoesNotClose,
    OwnerNeverCloses,
    ModuleLevelConnection,
    UnboundedFetchall,
    UnboundedOrmAll,
    UnboundedQuerysetList,
    ReadSqlWithoutChunksize,
    ClientSideCursorStreaming,
    MaterializedGenerator,
    MaterializedCursor,
    LenOfMaterialized,
    FirstOfMaterialized,
    FetchallIteratedOnce,
    QuerysetEvaluatedForCount,
)
