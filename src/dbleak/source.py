"""Reading Python source the way Python does, and converting between coordinate systems."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from functools import cached_property


class DecodeError(Exception):
    """The bytes cannot be decoded as Python source."""

    def __init__(self, message: str, line: int = 1, column: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class DecodedSource:
    text: str
    encoding: str
    bom: bool
    newline: str  # the file's dominant line ending, kept when writing back


def decode_source(data: bytes) -> DecodedSource:
    """Decode bytes per PEP 263 (coding cookie, UTF-8 BOM); newlines are left as they are."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "encoding declaration" in str(exc) and b"coding" not in data[:200]:
            encoding = "utf-8"  # bad bytes on the first lines: report where, below
        else:
            raise DecodeError(str(exc), getattr(exc, "lineno", None) or 1) from None
    bom = encoding == "utf-8-sig"
    try:
        text = data.decode(encoding)
    except LookupError:
        raise DecodeError(f"unknown encoding {encoding!r} in the coding cookie") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1)
        raise DecodeError(
            f"cannot decode byte {data[exc.start]:#04x} as {encoding} (line {line})", line, col
        ) from None
    return DecodedSource(text=text, encoding=encoding, bom=bom, newline=detect_newline(text))


def detect_newline(text: str) -> str:
    index = text.find("\n")
    if index > 0 and text[index - 1] == "\r":
        return "\r\n"
    if index < 0 and "\r" in text:
        return "\r"
    return "\n"


def encode_source(text: str, decoded: DecodedSource) -> bytes:
    """Encode text back the way it was read (encoding; a BOM is written by utf-8-sig)."""
    return text.encode(decoded.encoding)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


class LineIndex:
    """Maps between (line, byte column) as ``ast`` gives it, character columns and offsets."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def lines(self) -> list[str]:
        """Lines as Python counts them: only \\n, \\r\\n and \\r end a line (not \\f or \\v,
        which ``str.splitlines`` would split on)."""
        return _LINE.findall(self.text) or [""]

    @cached_property
    def line_offsets(self) -> list[int]:
        offsets = [0]
        total = 0
        for line in self.lines:
            total += len(line)
            offsets.append(total)
        return offsets

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return ""

    def char_column(self, line: int, byte_column: int) -> int:
        """Convert an ``ast`` UTF-8 byte column into a character column."""
        text = self.line_text(line)
        if text.isascii():
            return byte_column
        return len(text.encode("utf-8")[:byte_column].decode("utf-8", errors="replace"))

    def offset(self, line: int, column: int) -> int:
        """Character offset in the text of (1-based line, 0-based character column)."""
        if line > len(self.lines):
            return len(self.text)
        return self.line_offsets[line - 1] + column

    def segment(self, node: object) -> str | None:
        """The source text of an ``ast`` node (like ``ast.get_source_segment``, without re-splitting
        the whole text on every call)."""
        try:
            line = node.lineno  # type: ignore[attr-defined]
            end_line = node.end_lineno  # type: ignore[attr-defined]
            col = node.col_offset  # type: ignore[attr-defined]
            end_col = node.end_col_offset  # type: ignore[attr-defined]
        except AttributeError:
            return None
        if end_line is None or end_col is None:
            return None
        start = self.offset(line, self.char_column(line, col))
        end = self.offset(end_line, self.char_column(end_line, end_col))
        return self.text[start:end]


_LAST_INDEX: tuple[str, LineIndex] | None = None


def source_segment(text: str, node: object) -> str | None:
    """``ast.get_source_segment(text, node)``, with the line index of the last text kept."""
    global _LAST_INDEX
    cached = _LAST_INDEX
    if cached is None or cached[0] is not text:
        cached = (text, LineIndex(text))
        _LAST_INDEX = cached
    return cached[1].segment(node)
