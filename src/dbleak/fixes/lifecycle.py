"""libcst renderers of the lifecycle fix operations (see :mod:`dbleak.fixes.plan_lifecycle`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from dbleak.fixes.plan_lifecycle import MoveReleaseToFinally, WrapInTryFinally, WrapInWith
from dbleak.fixes.render import RENDERERS, RenderError

Body = Sequence[cst.BaseStatement]
_Key = tuple[int, int]
_WrapOp = WrapInWith | WrapInTryFinally


def _key(position: Any) -> _Key:
    return (position.line, position.column)


def _block(module: cst.Module, header: str, tail: str = "") -> cst.BaseCompoundStatement:
    """Parse a compound statement skeleton with the file's own indentation and newline."""
    indent = module.default_indent
    text = f"{header}\n{indent}pass\n{tail}"
    statement = cst.parse_statement(text, config=module.config_for_parsing)
    if not isinstance(statement, cst.BaseCompoundStatement):
        raise RenderError("expected a compound statement")
    return statement


class _Lifecycle(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module: cst.Module, wraps: Sequence[_WrapOp],
                 moves: Sequence[MoveReleaseToFinally]) -> None:
        super().__init__()
        self.module = module
        self.wraps = {_key(op.first): op for op in wraps}
        self.moves = {_key(op.try_start): op for op in moves}
        self.done = 0

    def _position(self, node: cst.CSTNode) -> _Key:
        return _key(self.get_metadata(PositionProvider, node).start)

    def _rewrite(self, original: Body, updated: Body) -> list[cst.BaseStatement]:
        positions = [self._position(s) for s in original]
        statements = list(updated)
        for index in range(len(positions) - 1, -1, -1):
            op = self.wraps.get(positions[index])
            if op is None:
                continue
            last = _key(op.last)
            if last not in positions:
                raise RenderError("the planned block end was not found")
            end = positions.index(last)
            drop = {_key(p) for p in op.drop}
            keep_first = isinstance(op, WrapInWith) and op.keep_first
            begin = index if keep_first else index + 1
            inner = [s for k, s in enumerate(statements[begin:end + 1], start=begin)
                     if positions[k] not in drop]
            if keep_first and inner and isinstance(inner[0], (cst.SimpleStatementLine,
                                                               cst.BaseCompoundStatement)):
                inner[0] = inner[0].with_changes(leading_lines=())
            if not inner:
                inner = [cst.SimpleStatementLine([cst.Pass()])]
            first = statements[index]
            if isinstance(op, WrapInWith):
                keyword = "async with" if op.is_async else "with"
                wrapper = _block(self.module, f"{keyword} {op.item}:")
                assert isinstance(wrapper.body, cst.IndentedBlock)
                header = wrapper.body.header
                if isinstance(first, cst.SimpleStatementLine) and not keep_first:
                    header = first.trailing_whitespace
                leading = first.leading_lines if isinstance(
                    first, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) else ()
                wrapper = wrapper.with_changes(
                    body=wrapper.body.with_changes(body=inner, header=header),
                    leading_lines=leading,
                )
                statements[index:end + 1] = [wrapper]
            else:
                skeleton = _block(self.module, "try:", f"finally:\n{self.module.default_indent}{op.release}\n")
                assert isinstance(skeleton, cst.Try) and isinstance(skeleton.body, cst.IndentedBlock)
                skeleton = skeleton.with_changes(body=skeleton.body.with_changes(body=inner))
                statements[index + 1:end + 1] = [skeleton]
            self.done += 1
        return statements

    def leave_IndentedBlock(self, original: cst.IndentedBlock,
                            updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if not self.wraps:
            return updated
        return updated.with_changes(body=self._rewrite(original.body, updated.body))

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if not self.wraps:
            return updated
        return updated.with_changes(body=self._rewrite(original.body, updated.body))

    def leave_Try(self, original: cst.Try, updated: cst.Try) -> cst.Try:
        op = self.moves.get(self._position(original))
        if op is None:
            return updated
        if updated.finalbody is not None or not isinstance(original.body, cst.IndentedBlock):
            raise RenderError("the try already has a finally")
        assert isinstance(updated.body, cst.IndentedBlock)
        positions = [self._position(s) for s in original.body.body]
        target = _key(op.release)
        if target not in positions:
            raise RenderError("the release statement is not in the try body")
        index = positions.index(target)
        body = list(updated.body.body)
        release = body.pop(index)
        if not body:
            body = [cst.SimpleStatementLine([cst.Pass()])]
        release = release.with_changes(leading_lines=())
        finally_ = cst.Finally(body=cst.IndentedBlock(body=[release]))
        self.done += 1
        return updated.with_changes(body=updated.body.with_changes(body=body), finalbody=finally_)


def _render(module: cst.Module, wraps: Sequence[_WrapOp],
            moves: Sequence[MoveReleaseToFinally]) -> cst.Module:
    transformer = _Lifecycle(module, wraps, moves)
    result = MetadataWrapper(module, unsafe_skip_copy=True).visit(transformer)
    if transformer.done != len(wraps) + len(moves):
        raise RenderError("a planned lifecycle rewrite did not find its statements")
    return result


def render_wraps(module: cst.Module, ops: list[Any]) -> cst.Module:
    return _render(module, ops, ())


def render_moves(module: cst.Module, ops: list[Any]) -> cst.Module:
    return _render(module, (), ops)


RENDERERS[WrapInWith] = render_wraps
RENDERERS[WrapInTryFinally] = render_wraps
RENDERERS[MoveReleaseToFinally] = render_moves
