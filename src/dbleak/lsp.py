"""`dbleak server`: a language server over stdio (pygls 2) — diagnostics, quick fixes, fix-all.

Everything is checked and fixed through :mod:`dbleak.api`; this module only translates between
the Language Server Protocol and dbleak's data.

Coordinates: dbleak has 1-based lines and 0-based *character* (code point) columns; LSP wants
0-based lines and columns in the negotiated ``positionEncoding`` (UTF-16 unless the client
offers another). pygls negotiates the encoding but converts nothing we send, and its line
helpers split lines with ``str.splitlines`` (which also breaks at ``\\f``, ``\\x1c`` and
U+2028, unlike LSP and ``ast``), so :class:`LineTable` does the conversion itself. For the same
reason the server asks for full-text synchronization: pygls' incremental edits use those lines.
"""

from __future__ import annotations

import ast
import asyncio
import io
import logging
import re
import tokenize
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from dbleak import __version__
from dbleak.analysis.project import ModuleFinder, ProjectIndex
from dbleak.api import (
    IncrementalChecker,
    ModuleSummaries,
    check_source,
    fix_source,
    index_of,
    project_summaries,
    summarize_text,
)
from dbleak.fixing import allowed, build_fix
from dbleak.incremental import common_prefix, common_suffix
from dbleak.models import Applicability, FileResult, Finding, Fix, Position
from dbleak.noqa import parse_suppressions
from dbleak.registry import ENGINE_CODES, is_valid_selector, rule_by_code
from dbleak.settings import CONFIG_NAMES, ConfigError, ConfigResolver, Settings
from dbleak.source import DecodeError, decode_source

logger = logging.getLogger(__name__)

SOURCE = "dbleak"
FIX_ALL_KIND = f"{lsp.CodeActionKind.SourceFixAll.value}.dbleak"
QUICK_FIX_KIND = lsp.CodeActionKind.QuickFix.value
ERROR_CODES = frozenset(ENGINE_CODES)  # syntax errors and unreadable files are errors
PYTHON_SUFFIXES = (".py", ".pyi")
DEFAULT_DEBOUNCE_MS = 250

_NEWLINE = re.compile(r"\r\n|\r|\n")
# A noqa comment with a code list, which can be extended (a bare noqa covers every code).
_NOQA_CODES = re.compile(r"#\s*noqa:\s*[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class ServerOptions:
    """What the client may set in ``initializationOptions``."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    lint_on_change: bool = True
    debounce_ms: int = DEFAULT_DEBOUNCE_MS

    def apply(self, settings: Settings) -> Settings:
        """The settings of a document with these options laid over its configuration."""
        changes: dict[str, Any] = {}
        if self.select:
            changes["select"] = self.select
        if self.ignore:
            changes["ignore"] = (*settings.ignore, *self.ignore)
        return replace(settings, **changes) if changes else settings


def parse_options(raw: object) -> tuple[ServerOptions, list[str]]:
    """``initializationOptions`` → options, plus a message for every value that was ignored.

    Keys are kebab-case as in the configuration file; camelCase spellings are accepted too.
    """
    if raw is None:
        return ServerOptions(), []
    if not isinstance(raw, dict):
        return ServerOptions(), [f"initializationOptions must be an object, got {raw!r}"]
    problems: list[str] = []
    values: dict[str, Any] = {}
    aliases = {"unsafeFixes": "unsafe-fixes", "lintOnChange": "lint-on-change",
               "debounceMs": "debounce-ms"}
    for key, value in raw.items():
        key = aliases.get(key, key)
        if key in ("select", "ignore"):
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                problems.append(f"`{key}` must be a list of rule codes, got {value!r}")
                continue
            codes = tuple(v.strip().upper() for v in value if v.strip())
            bad = [c for c in codes if not is_valid_selector(c)]
            if bad:
                problems.append(f"`{key}`: unknown rule code or prefix {', '.join(bad)}")
            values[key] = tuple(c for c in codes if is_valid_selector(c))
        elif key in ("unsafe-fixes", "lint-on-change"):
            if not isinstance(value, bool):
                problems.append(f"`{key}` must be true or false, got {value!r}")
                continue
            values[key.replace("-", "_")] = value
        elif key == "debounce-ms":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append("`debounce-ms` must be a whole number of milliseconds, "
                                f"got {value!r}")
                continue
            values["debounce_ms"] = value
        else:
            problems.append(f"unknown option `{key}` (known: select, ignore, unsafe-fixes, "
                            "lint-on-change, debounce-ms)")
    return ServerOptions(**values), problems


# ---------------------------------------------------------------------------------------------
# Coordinates


def units_counter(encoding: str | None) -> Callable[[str], int]:
    """How many code units of the negotiated position encoding a string takes."""
    if encoding == lsp.PositionEncodingKind.Utf8.value:
        return lambda text: len(text.encode("utf-8", "surrogatepass"))
    if encoding == lsp.PositionEncodingKind.Utf32.value:
        return len
    return lambda text: len(text.encode("utf-16-le", "surrogatepass")) // 2


class LineTable:
    """Lines as LSP and ``ast`` count them: only ``\\n``, ``\\r\\n`` and ``\\r`` end a line."""

    def __init__(self, text: str, units: Callable[[str], int]) -> None:
        self.text = text
        self.units = units
        self.starts = [0] + [match.end() for match in _NEWLINE.finditer(text)]

    def _line_end(self, index: int) -> int:
        """Offset of the end of line ``index`` (0-based), without its line ending."""
        if index + 1 < len(self.starts):
            end = self.starts[index + 1]
            return end - (2 if self.text[end - 2:end] == "\r\n" else 1)
        return len(self.text)

    def line_text(self, index: int) -> str:
        return self.text[self.starts[index]:self._line_end(index)]

    def offset(self, position: Position) -> int:
        """Character offset of a dbleak position (clamped to the line and the text)."""
        index = position.line - 1
        if index < 0:
            return 0
        if index >= len(self.starts):
            return len(self.text)
        return min(self.starts[index] + max(position.column, 0), self._line_end(index))

    def to_lsp(self, offset: int) -> lsp.Position:
        """The LSP position of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        index = _bisect_right(self.starts, offset) - 1
        start = self.starts[index]
        offset = min(offset, self._line_end(index))  # never inside a "\r\n"
        prefix = self.text[start:offset]
        character = len(prefix) if prefix.isascii() else self.units(prefix)
        return lsp.Position(line=index, character=character)

    def from_lsp(self, position: lsp.Position) -> int:
        """The character offset of an LSP position (past the end of a line: its end)."""
        if position.line >= len(self.starts):
            return len(self.text)
        line = self.line_text(position.line)
        start = self.starts[position.line]
        if line.isascii():
            return start + min(position.character, len(line))
        used = 0
        for column, char in enumerate(line):
            if used >= position.character:
                return start + column
            used += self.units(char)
        return start + len(line)

    def range_of(self, start: Position, end: Position) -> lsp.Range:
        begin = self.offset(start)
        return lsp.Range(start=self.to_lsp(begin), end=self.to_lsp(max(begin, self.offset(end))))


def _bisect_right(values: list[int], value: int) -> int:
    low, high = 0, len(values)
    while low < high:
        middle = (low + high) // 2
        if value < values[middle]:
            high = middle
        else:
            low = middle + 1
    return low


def replacement_edit(old: str, new: str, table: LineTable) -> lsp.TextEdit:
    """One edit that turns ``old`` (described by ``table``) into ``new``: the differing middle."""
    prefix = common_prefix(old, new)
    start = prefix
    end = len(old) - common_suffix(old, new, min(len(old), len(new)) - prefix)
    # An LSP position cannot sit between "\r" and "\n": widen the range over the pair.
    if 0 < start < len(old) and old[start - 1] == "\r" and old[start] == "\n":
        start -= 1
    if 0 < end < len(old) and old[end - 1] == "\r" and old[end] == "\n":
        end += 1
    content = new[start:len(new) - (len(old) - end)]
    return lsp.TextEdit(range=lsp.Range(start=table.to_lsp(start), end=table.to_lsp(end)),
                        new_text=content)


# ---------------------------------------------------------------------------------------------
# Findings → diagnostics; suppression comments


def to_diagnostic(finding: Finding, index: int, version: int | None,
                  table: LineTable) -> lsp.Diagnostic:
    """The LSP diagnostic of a finding; ``data`` names the finding so code actions need no lint."""
    rule = rule_by_code(finding.code)
    data: dict[str, Any] = {"version": version, "index": index, "code": finding.code}
    if finding.fixable and finding.plan is not None:
        data["fix"] = {"title": finding.plan.title,
                       "applicability": finding.plan.applicability.value}
    return lsp.Diagnostic(
        range=table.range_of(finding.start, finding.end),
        message=finding.message,
        severity=(lsp.DiagnosticSeverity.Error if finding.code in ERROR_CODES
                  else lsp.DiagnosticSeverity.Warning),
        code=finding.code,
        code_description=lsp.CodeDescription(href=rule.url()) if rule is not None else None,
        source=SOURCE,
        data=data,
    )


def _comments_by_line(text: str) -> dict[int, tokenize.TokenInfo]:
    try:
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        return {t.start[0]: t for t in tokens if t.type == tokenize.COMMENT}
    except (tokenize.TokenError, SyntaxError):
        return {}


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def fixed_by(text: str, finding: Finding) -> tuple[Fix, str] | None:
    """A finding's fix rendered against ``text``, and the text it makes; None when it does not
    render, changes nothing or does not parse."""
    fix = build_fix(text, finding)
    if fix is None:
        return None
    from dbleak.fixes.render import apply_edits  # libcst: only once a fix is asked for

    new = apply_edits(text, fix.edits)
    return (fix, new) if new != text and _parses(new) else None


def with_noqa(text: str, finding: Finding) -> str | None:
    """``text`` with ``# noqa: CODE`` added (or a code list extended) so ``finding`` is suppressed.

    Tries the finding's line, then the other lines its statement's ``noqa`` counts on; a
    candidate must parse and really suppress the finding. None when no line works.
    """
    table = LineTable(text, len)
    comments = _comments_by_line(text)
    candidates = list(dict.fromkeys((finding.start.line, *finding.noqa_lines)))
    # A line whose noqa comment lists codes is extended rather than given a second comment.
    candidates.sort(key=lambda line: 0 if _noqa_list(comments.get(line)) else 1)
    for line in candidates:
        if not 1 <= line <= len(table.starts):
            continue
        new = _add_noqa(text, table, line, comments.get(line), finding.code)
        if _parses(new) and parse_suppressions(new).suppresses(finding.code, finding.noqa_lines):
            return new
    return None


def _noqa_list(comment: tokenize.TokenInfo | None) -> re.Match[str] | None:
    return _NOQA_CODES.search(comment.string) if comment is not None else None


def _add_noqa(text: str, table: LineTable, line: int, comment: tokenize.TokenInfo | None,
              code: str) -> str:
    start = table.starts[line - 1]
    match = _noqa_list(comment)
    if comment is not None and match is not None:
        at = start + comment.start[1] + match.end()
        return f"{text[:at]}, {code}{text[at:]}"
    content = table.line_text(line - 1)
    at = start + len(content.rstrip(" \t"))
    end = start + len(content)
    return f"{text[:at]}  # noqa: {code}{text[end:]}"


# ---------------------------------------------------------------------------------------------
# The server


@dataclass
class DocumentState:
    """The last published lint of one document, kept so code actions never re-lint."""

    version: int | None
    text: str
    path: str
    settings: Settings
    result: FileResult
    fixes: dict[int, tuple[Fix, str] | None] = field(default_factory=dict)
    fixed_all: str | None = None  # the text after fix-all, once computed


@dataclass(frozen=True)
class LintOutcome:
    result: FileResult
    settings: Settings
    config_error: str | None


class DbleakServer(LanguageServer):
    """The language server; one per process."""

    def __init__(self) -> None:
        # Full sync: pygls applies incremental edits with lines split differently from LSP.
        super().__init__("dbleak", __version__,
                         text_document_sync_kind=lsp.TextDocumentSyncKind.Full)
        self.options = ServerOptions()
        self.option_problems: list[str] = []
        self.resolver = ConfigResolver(overrides=self.options.apply)
        # Lints and fix rendering run here, off the event loop, so requests keep being served.
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dbleak-lint")
        self.states: dict[str, DocumentState] = {}
        self.pending: dict[str, tuple[int | None, tuple[int, int, tuple[tuple[str, int, int], ...]],
                                      asyncio.Task[None]]] = {}
        self.sequence: dict[str, int] = {}
        self.config_generation = 0
        self.reported: set[str] = set()
        self.stamps: dict[str, tuple[tuple[str, int, int], ...]] = {}
        # Per open document: its last check, so an edit re-analyses only what it can change.
        self.checkers: dict[str, IncrementalChecker] = {}
        # The workspace's project index (factories and generators defined in other files),
        # built once in the background, then kept up to date one module at a time (from the
        # editor's text of open documents, from disk for the others). Each change makes a new
        # index and re-checks the open documents: their findings may depend on the change.
        self.project: ProjectIndex | None = None
        self._project_requested = False
        self.modules: dict[str, ModuleSummaries] = {}  # by absolute path
        self.finder: ModuleFinder | None = None
        self.project_generation = 0
        self.shutting_down = False

    # -- documents and settings -------------------------------------------------------------

    def configure(self, options: ServerOptions) -> None:
        self.options = options
        self.reload_config()

    def reload_config(self) -> None:
        """Forget every configuration read so far (a config file changed)."""
        self.resolver = ConfigResolver(overrides=self.options.apply)
        self.config_generation += 1
        self.reported.clear()
        self.stamps.clear()

    def document(self, uri: str) -> TextDocument | None:
        """The open document at ``uri`` (never one read from disk)."""
        return self.workspace.text_documents.get(unquote(uri))  # type: ignore[no-any-return]

    def document_path(self, document: TextDocument) -> str:
        path = to_fs_path(document.uri)
        if path is not None:
            return path
        root = self.workspace.root_path or str(Path.cwd())
        return str(Path(root) / (document.filename or "untitled.py"))

    @staticmethod
    def is_python(document: TextDocument) -> bool:
        return document.language_id == "python" or document.uri.endswith(PYTHON_SUFFIXES)

    def settings_for(self, path: str) -> tuple[Settings, str | None]:
        """The settings of a file, and the configuration error met on the way (if any)."""
        try:
            return self.resolver.for_path(Path(path)), None
        except ConfigError as error:
            return self.options.apply(Settings(root=str(Path(path).parent))), str(error)

    def lint_job(self, text: str, path: str,
                 checker: IncrementalChecker | None = None) -> LintOutcome:
        """Runs in a worker thread: settings and the check through the API (incremental when
        the document's checker is given: the same result as a full check, sooner)."""
        settings, error = self.settings_for(path)
        # Fixes are rendered when a code action asks for one: rendering every fix with libcst
        # on every keystroke costs seconds on a large file.
        return LintOutcome(check_source(text, path, settings, project=self.project,
                                        previous=checker), settings, error)

    def request_project_index(self) -> None:
        """Start building the workspace's project index once, in a worker thread; the open
        documents are checked again when it is ready."""
        if self._project_requested:
            return
        self._project_requested = True
        root = self.workspace.root_path
        if root:
            asyncio.ensure_future(self._index_workspace(root))

    async def _index_workspace(self, root: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            modules, finder = await loop.run_in_executor(
                self.executor, project_summaries, [Path(root)], self.resolver.for_path)
        except Exception as error:  # noqa: BLE001 - an index is an aid; the server must stay up
            self.log(f"could not index the workspace: {error}", lsp.MessageType.Warning)
            return
        if self.shutting_down:
            return
        # Open documents already summarized from the editor's text keep that text's summaries.
        self.modules = {**modules, **self.modules}
        self.finder = finder
        # Said before the re-checks it starts: a client (and the tests) can tell which
        # diagnostics were computed with the index.
        self.log(f"workspace index ready: {len(modules)} modules")
        self._renew_project()

    def _renew_project(self, changed_uri: str | None = None) -> None:
        """A new index from the modules' summaries; every open document but ``changed_uri``
        (whose change it was) is checked again."""
        self.project = index_of(self.modules, self.finder)
        self.project_generation += 1
        for uri in sorted(set(self.states) | set(self.pending)):
            if uri != changed_uri:
                self.schedule_lint(uri)

    async def update_module(self, path: str, text: str | None, settings: Settings,
                            uri: str | None = None) -> None:
        """Take a module's new text (None: deleted) into the index, if its summaries changed."""
        if self.project is None or self.shutting_down:
            return  # not built yet (it will read the file as it is then), or no longer needed
        key = str(Path(path).absolute())
        summaries: ModuleSummaries = {}
        if text is not None:
            loop = asyncio.get_running_loop()
            summaries = await loop.run_in_executor(self.executor, summarize_text, text, path,
                                                   settings)
        if self.modules.get(key, {}) == summaries:
            return
        if text is None:
            self.modules.pop(key, None)
        else:
            self.modules[key] = summaries
        self._renew_project(uri)

    async def file_changed_on_disk(self, path: str) -> None:
        """A Python file changed on disk; open documents are the editor's, not the disk's."""
        if any(self.document_path(doc) == path for doc in self.workspace.text_documents.values()):
            return
        try:
            text: str | None = await asyncio.get_running_loop().run_in_executor(
                self.executor, _read_source, path)
        except OSError:
            text = None
        settings, _ = self.settings_for(path)
        await self.update_module(path, text, settings)

    # -- messages to the client ---------------------------------------------------------------

    def log(self, message: str, kind: lsp.MessageType = lsp.MessageType.Info) -> None:
        self.window_log_message(lsp.LogMessageParams(type=kind, message=f"dbleak: {message}"))

    def report_error(self, what: str) -> None:
        """An internal error: logged with its traceback; the server keeps going."""
        detail = traceback.format_exc(limit=-4).strip()
        logger.error("%s\n%s", what, detail)
        self.log(f"internal error {what}:\n{detail}", lsp.MessageType.Error)

    def warn_once(self, message: str) -> None:
        """A configuration problem: shown once (until the configuration changes)."""
        if message in self.reported:
            return
        self.reported.add(message)
        self.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Error,
                                                       message=f"dbleak: {message}"))
        self.log(message, lsp.MessageType.Error)

    def publish(self, uri: str, version: int | None, diagnostics: list[lsp.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))

    def position_units(self) -> Callable[[str], int]:
        encoding = self.workspace.position_encoding
        return units_counter(encoding.value if isinstance(encoding, lsp.PositionEncodingKind)
                             else encoding)

    # -- linting ------------------------------------------------------------------------------

    def schedule_lint(self, uri: str, delay_ms: int = 0) -> None:
        """Lint ``uri`` after ``delay_ms``; replaces a lint still waiting for the same document."""
        document = self.document(uri)
        if document is None or not self.is_python(document):
            return
        waiting = self.pending.get(uri)
        # A configuration file written since the check in flight read its stamp (an editor that
        # does not watch files saves right after) makes the same text another check.
        stamp = config_stamp(self.document_path(document))
        generation = (self.config_generation, self.project_generation, stamp)
        if waiting is not None:
            version, previous, task = waiting
            if (not task.done() and delay_ms == 0 and version == document.version
                    and previous == generation):
                return  # the same text under the same settings is already being checked
            task.cancel()
        task = asyncio.ensure_future(self._lint_later(uri, delay_ms))
        self.pending[uri] = (document.version, generation, task)

    async def _lint_later(self, uri: str, delay_ms: int) -> None:
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        try:
            await self.lint(uri)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - an internal error must not end the server
            self.report_error(f"while checking {uri}")

    async def lint(self, uri: str) -> None:
        """Check the document and publish; a result for an outdated text is dropped."""
        document = self.document(uri)
        if document is None:
            return
        version, text = document.version, document.source
        path = self.document_path(document)
        stamp = config_stamp(path)
        if self.stamps.get(path, stamp) != stamp:
            self.reload_config()  # a configuration file changed behind the editor's back
        self.stamps[path] = stamp
        sequence = self.sequence[uri] = self.sequence.get(uri, 0) + 1
        self.request_project_index()
        loop = asyncio.get_running_loop()
        checker = self.checkers.setdefault(uri, IncrementalChecker())
        outcome = await loop.run_in_executor(self.executor, self.lint_job, text, path, checker)
        if (self.document(uri) is not document or document.version != version
                or self.sequence.get(uri) != sequence):
            return  # stale: the document changed (or a newer lint started) meanwhile
        if outcome.config_error is not None:
            self.warn_once(outcome.config_error)
        for error in outcome.result.internal_errors:
            self.log(error, lsp.MessageType.Error)
        self.states[uri] = DocumentState(version, text, path, outcome.settings, outcome.result)
        table = LineTable(text, self.position_units())
        self.publish(uri, version, [to_diagnostic(finding, index, version, table)
                                    for index, finding in enumerate(outcome.result.findings)])
        # After publishing: what this text defines may change other documents' findings.
        await self.update_module(path, text, outcome.settings, uri)

    def lint_open_documents(self) -> None:
        for uri in sorted(set(self.states) | set(self.pending)):
            self.schedule_lint(uri)

    def forget(self, uri: str) -> None:
        waiting = self.pending.pop(uri, None)
        if waiting is not None:
            waiting[2].cancel()
        self.states.pop(uri, None)
        self.checkers.pop(uri, None)
        self.sequence[uri] = self.sequence.get(uri, 0) + 1

    # -- code actions -------------------------------------------------------------------------

    def current_state(self, uri: str) -> DocumentState | None:
        """The lint state of ``uri`` if it still describes the open text."""
        state = self.states.get(uri)
        document = self.document(uri)
        if state is None or document is None or document.version != state.version:
            return None
        return state

    def still_open_as(self, uri: str, state: DocumentState) -> bool:
        """Whether edits computed from ``state`` still apply to the open text: the document has
        not changed since. A re-check of the same text (the workspace index became ready, a
        dependency changed) replaces the state but not the text the edits were made for."""
        document = self.document(uri)
        return (document is not None and document.version == state.version
                and document.source == state.text)

    async def in_worker(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def render_fix(self, state: DocumentState, index: int) -> tuple[Fix, str] | None:
        """The fix of a finding and the text it makes (rendered once per lint, in a worker)."""
        if index not in state.fixes:
            state.fixes[index] = await self.in_worker(fixed_by, state.text,
                                                      state.result.findings[index])
        return state.fixes[index]

    async def fixed_text(self, state: DocumentState) -> str:
        if state.fixed_all is None:
            outcome = await self.in_worker(fix_source, state.text, state.path, state.settings,
                                           self.options.unsafe_fixes, self.project)
            for note in outcome.refused:
                self.log(f"{state.path}:{note}", lsp.MessageType.Warning)
            state.fixed_all = outcome.text
        return state.fixed_all

    def workspace_edit(self, uri: str, version: int | None,
                       edit: lsp.TextEdit) -> lsp.WorkspaceEdit:
        capabilities = self.client_capabilities.workspace
        document_changes = bool(capabilities and capabilities.workspace_edit
                                and capabilities.workspace_edit.document_changes)
        if document_changes:
            identifier = lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
            return lsp.WorkspaceEdit(document_changes=[
                lsp.TextDocumentEdit(text_document=identifier, edits=[edit])])
        return lsp.WorkspaceEdit(changes={uri: [edit]})

    async def code_actions(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        state = self.current_state(uri)
        if state is None:
            return []
        only = params.context.only

        def wanted(kind: str) -> bool:
            return only is None or any(kind == k or kind.startswith(f"{k}.") for k in only)

        table = LineTable(state.text, self.position_units())
        targets = self._targets(params, state, table)
        actions: list[lsp.CodeAction] = []
        if wanted(QUICK_FIX_KIND):
            for index, diagnostic in targets:
                action = await self._quick_fix(uri, state, index, diagnostic, table)
                if action is not None:
                    actions.append(action)
            seen: set[str] = set()
            for index, diagnostic in targets:
                action = await self._disable_action(uri, state, index, diagnostic, table)
                if action is not None and repr(action.edit) not in seen:
                    seen.add(repr(action.edit))  # two findings of one code on one line: one action
                    actions.append(action)
        unsafe = self.options.unsafe_fixes
        if wanted(FIX_ALL_KIND) and any(allowed(f, unsafe) for f in state.result.findings):
            new = await self.fixed_text(state)
            if new != state.text and self.still_open_as(uri, state):
                edit = replacement_edit(state.text, new, table)
                actions.append(lsp.CodeAction(
                    title="dbleak: fix all auto-fixable problems", kind=FIX_ALL_KIND,
                    edit=self.workspace_edit(uri, state.version, edit)))
        return actions if self.still_open_as(uri, state) else []

    def _targets(self, params: lsp.CodeActionParams, state: DocumentState,
                 table: LineTable) -> list[tuple[int, lsp.Diagnostic]]:
        """The findings the request is about: its diagnostics, or those overlapping its range."""
        findings = state.result.findings
        chosen: dict[int, lsp.Diagnostic] = {}
        for diagnostic in params.context.diagnostics:
            if diagnostic.source != SOURCE:
                continue
            data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
            index = data.get("index")
            if (isinstance(index, int) and 0 <= index < len(findings)
                    and data.get("version") == state.version
                    and findings[index].code == data.get("code")):
                chosen[index] = diagnostic
            elif not data:  # a client that drops `data`: match the code and the range
                for index, finding in enumerate(findings):
                    if (finding.code == diagnostic.code
                            and table.range_of(finding.start, finding.end) == diagnostic.range):
                        chosen[index] = diagnostic
        if not chosen and not params.context.diagnostics:
            # Clients that do not send diagnostics back: take the findings under the range.
            begin, end = table.from_lsp(params.range.start), table.from_lsp(params.range.end)
            for index, finding in enumerate(findings):
                start, stop = table.offset(finding.start), table.offset(finding.end)
                if start <= end and begin <= stop:
                    chosen[index] = to_diagnostic(finding, index, state.version, table)
        return sorted(chosen.items())

    async def _quick_fix(self, uri: str, state: DocumentState, index: int,
                         diagnostic: lsp.Diagnostic, table: LineTable) -> lsp.CodeAction | None:
        finding = state.result.findings[index]
        if not finding.fixable:
            return None
        rendered = await self.render_fix(state, index)
        if rendered is None:
            return None
        fix, new = rendered
        safe = fix.applicability is Applicability.SAFE
        title = f"{finding.code}: {fix.title}" + ("" if safe else " (unsafe)")
        return lsp.CodeAction(
            title=title, kind=QUICK_FIX_KIND, diagnostics=[diagnostic], is_preferred=safe,
            edit=self.workspace_edit(uri, state.version, replacement_edit(state.text, new, table)),
        )

    async def _disable_action(self, uri: str, state: DocumentState, index: int,
                              diagnostic: lsp.Diagnostic,
                              table: LineTable) -> lsp.CodeAction | None:
        finding = state.result.findings[index]
        if finding.code in ERROR_CODES:
            return None  # the engine's own findings cannot be suppressed
        new = await self.in_worker(with_noqa, state.text, finding)
        if new is None:
            return None
        return lsp.CodeAction(
            title=f"Disable {finding.code} for this line", kind=QUICK_FIX_KIND,
            diagnostics=[diagnostic],
            edit=self.workspace_edit(uri, state.version, replacement_edit(state.text, new, table)),
        )


def config_stamp(path: str) -> tuple[tuple[str, int, int], ...]:
    """Every configuration file above ``path`` with its mtime and size: a change means reload.

    A few ``stat`` calls per check, so edits are noticed even by editors that do not watch
    files for the server.
    """
    stamps = []
    folder = Path(path).absolute().parent
    for directory in (folder, *folder.parents):
        for name in CONFIG_NAMES:
            candidate = directory / name
            try:
                status = candidate.stat()
            except OSError:
                continue
            stamps.append((str(candidate), status.st_mtime_ns, status.st_size))
    return tuple(stamps)


def _read_source(path: str) -> str | None:
    """A module's text from disk; None when it cannot be decoded."""
    try:
        return decode_source(Path(path).read_bytes()).text
    except DecodeError:
        return None


def _is_config_file(uri: str) -> bool:
    return unquote(uri).rstrip("/").rsplit("/", 1)[-1] in CONFIG_NAMES


def create_server() -> DbleakServer:
    """The server with its features registered."""
    server = DbleakServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: DbleakServer, params: lsp.InitializeParams) -> None:
        options, problems = parse_options(params.initialization_options)
        ls.configure(options)
        ls.option_problems = problems

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: DbleakServer, params: lsp.InitializedParams) -> None:
        for problem in ls.option_problems:
            ls.warn_once(f"initializationOptions: {problem}")
        workspace = ls.client_capabilities.workspace
        watched = workspace.did_change_watched_files if workspace else None
        if watched is None or not watched.dynamic_registration:
            return
        watchers = [lsp.FileSystemWatcher(glob_pattern=f"**/{name}")
                    for name in (*CONFIG_NAMES, *(f"*{suffix}" for suffix in PYTHON_SUFFIXES))]
        registration = lsp.Registration(
            id="dbleak-config-watcher", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=lsp.DidChangeWatchedFilesRegistrationOptions(watchers=watchers))
        try:
            await ls.client_register_capability_async(
                lsp.RegistrationParams(registrations=[registration]))
        except Exception as error:  # noqa: BLE001 - then changes are noticed at the next check
            ls.log(f"could not register the configuration file watcher: {error}",
                   lsp.MessageType.Warning)

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: DbleakServer, params: None) -> None:
        ls.shutting_down = True
        for _, _, task in ls.pending.values():
            task.cancel()
        ls.executor.shutdown(wait=False, cancel_futures=True)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DbleakServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.schedule_lint(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DbleakServer, params: lsp.DidChangeTextDocumentParams) -> None:
        if ls.options.lint_on_change:
            ls.schedule_lint(params.text_document.uri, ls.options.debounce_ms)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: DbleakServer, params: lsp.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        if _is_config_file(uri):
            ls.reload_config()
            ls.lint_open_documents()
        else:
            ls.schedule_lint(uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DbleakServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.forget(uri)
        ls.publish(uri, None, [])

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: DbleakServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        if any(_is_config_file(change.uri) for change in params.changes):
            ls.reload_config()
            ls.lint_open_documents()
        for change in params.changes:
            path = to_fs_path(change.uri)
            if path is not None and path.endswith(PYTHON_SUFFIXES):
                asyncio.ensure_future(ls.file_changed_on_disk(path))

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, FIX_ALL_KIND], resolve_provider=False))
    async def code_action(ls: DbleakServer,
                          params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
        try:
            return await ls.code_actions(params) or None
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - an internal error must not end the server
            ls.report_error(f"while computing code actions for {params.text_document.uri}")
            return None

    return server


def start_server() -> None:
    """Serve over stdin/stdout until the client says exit."""
    create_server().start_io()


__all__ = [
    "DbleakServer",
    "LineTable",
    "ServerOptions",
    "create_server",
    "fixed_by",
    "parse_options",
    "replacement_edit",
    "start_server",
    "to_diagnostic",
    "with_noqa",
]
