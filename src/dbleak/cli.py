"""The `dbleak` command line (click). Options become Settings; results become text and exit codes.

Exit codes: 0 nothing left to report, 1 findings remain, 2 usage, configuration or internal error
(even with --exit-zero).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from dbleak import __version__
from dbleak.registry import is_valid_selector
from dbleak.report import FORMATS, NEEDS_FIX_EDITS, TEXT_FORMATS

if TYPE_CHECKING:
    from dbleak.api import PathResult, RunObserver, RunOptions
    from dbleak.cache import Cache
    from dbleak.models import Finding
    from dbleak.settings import ConfigResolver, Settings

# The modules a check needs (the rules and their analyses, the runner, the reports) are imported
# by the commands that use them, so that `dbleak --version`, `dbleak rule` and `dbleak server`
# start without them.

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class DbleakError(click.ClickException):
    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"dbleak: error: {self.format_message()}", err=True)


def _codes(values: Sequence[str], option: str) -> tuple[str, ...]:
    codes: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip().upper()
            if not part:
                continue
            if not is_valid_selector(part):
                raise click.BadParameter(
                    f"unknown rule code or prefix {part!r} (`dbleak rule --all` lists the codes)",
                    param_hint=f"'{option}'")
            codes.append(part)
    return tuple(codes)


def _use_color() -> bool:
    """Colour on a terminal; a non-empty `FORCE_COLOR` forces it (also into a pipe, as in ruff and
    CI logs) and wins over `NO_COLOR`, which otherwise turns it off."""
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="dbleak", message="%(prog)s %(version)s")
def cli() -> None:
    """dbleak: finds leaked connections, unbounded reads and needless materialization in database code."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (replaces the config).")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable in addition.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--fix", is_flag=True, help="Apply safe fixes.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (with --fix) or show unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option("--show-fixes", is_flag=True, help="List the fixes applied (with --fix).")
@click.option("--output-format", type=click.Choice(["full", "concise", *sorted(FORMATS)]),
              default="full", show_default=True)
@click.option("-o", "--output-file", type=click.Path(path_type=Path), default=None,
              help="Write the report to this file instead of stdout.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain.")
@click.option("--config", "config_values", multiple=True, metavar="PATH | KEY=VALUE",
              help="Use this pyproject.toml or dbleak.toml for every file, or override one "
                   "option with a TOML `KEY = VALUE` (e.g. \"sql.chunk-size = 500\"); repeatable.")
@click.option("--isolated", is_flag=True, help="Ignore all configuration files.")
@click.option("--force-exclude", is_flag=True, help="Apply excludes to paths given explicitly too.")
@click.option("--stdin-filename", default=None, help="The name of the file read from stdin.")
@click.option("-q", "--quiet", is_flag=True, help="Print the findings and nothing else.")
@click.option("--statistics", is_flag=True, help="Print one line per code with its count instead.")
@click.option("--baseline", "baseline_file", type=click.Path(path_type=Path), default=None,
              help="Report only findings not recorded in this baseline file.")
@click.option("--write-baseline", "write_baseline_file", type=click.Path(path_type=Path),
              default=None, help="Record the current findings in this baseline file.")
@click.option("--add-noqa", is_flag=True, help="Add `# noqa: CODE` comments for every finding.")
@click.option("--runtime-report", type=click.Path(path_type=Path), default=None,
              help="A `pytest --dbleak-report` file: mark the findings it confirms and list the "
                   "runtime leaks and large reads no finding covers.")
@click.option("--ignore-noqa", is_flag=True, help="Ignore every `# noqa` comment (report all).")
@click.option("--show-settings", is_flag=True,
              help="Print the settings that apply to the first PATH, with every resolved value.")
@click.option("--show-files", is_flag=True, help="List the files that would be checked.")
@click.option("-v", "--verbose", is_flag=True,
              help="Print the time of each phase (discovery, index, checks, fixes) on stderr.")
@click.option("--no-cache", is_flag=True, envvar="DBLEAK_NO_CACHE",
              help="Analyse every file; neither read nor write the cache.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
              help="The cache folder [env: DBLEAK_CACHE_DIR] "
                   "(default: .dbleak_cache in the project root).")
def check(paths: tuple[Path, ...], select: tuple[str, ...], extend_select: tuple[str, ...],
          ignore: tuple[str, ...], fix: bool, unsafe_fixes: bool, diff: bool, show_fixes: bool,
          output_format: str, output_file: Path | None, exit_zero: bool,
          config_values: tuple[str, ...],
          isolated: bool, force_exclude: bool, stdin_filename: str | None, quiet: bool,
          statistics: bool, baseline_file: Path | None, write_baseline_file: Path | None,
          add_noqa: bool, runtime_report: Path | None, ignore_noqa: bool, show_settings: bool,
          show_files: bool, verbose: bool, no_cache: bool, cache_dir: Path | None) -> None:
    """Check PATHS (files or folders; default: the current folder; `-` reads stdin)."""
    _pause_cyclic_gc()
    from dbleak.api import RunOptions
    from dbleak.progress import TerminalObserver
    from dbleak.settings import ConfigError, ConfigResolver, apply_inline

    if statistics and output_format not in (*TEXT_FORMATS, "json"):
        # As ruff: statistics exist as text and JSON only; printing text instead would break
        # the consumer of the format asked for.
        raise click.UsageError(f"--statistics cannot be written as {output_format!r} "
                               "(use the full, concise or json format)")
    if add_noqa and (fix or diff):
        raise click.UsageError("--add-noqa cannot be combined with --fix or --diff")
    if add_noqa and (paths == (Path("-"),) or (not paths and stdin_filename is not None)):
        raise click.UsageError("--add-noqa writes files; it cannot read stdin")
    if baseline_file is not None and write_baseline_file is None and not baseline_file.is_file():
        raise DbleakError(f"{baseline_file}: no such baseline file (create it with --write-baseline)")
    if runtime_report is not None and not runtime_report.is_file():
        raise DbleakError(f"{runtime_report}: no such runtime report (write it with "
                          "`pytest --dbleak --dbleak-report=PATH`)")
    adoption = Adoption(statistics, baseline_file, write_baseline_file, add_noqa, runtime_report)
    select_codes = _codes(select, "--select")
    extend_codes = _codes(extend_select, "--extend-select")
    ignore_codes = _codes(ignore, "--ignore")

    config_path, inline = _config_arguments(config_values)

    def overrides(settings: Settings) -> Settings:
        for table in inline:
            settings = apply_inline(settings, table)
        changes: dict[str, Any] = {}
        if select_codes:
            changes["select"] = select_codes
        if extend_codes:
            changes["extend_select"] = (*settings.extend_select, *extend_codes)
        if ignore_codes:
            changes["ignore"] = (*settings.ignore, *ignore_codes)
        if ignore_noqa:
            changes["ignore_noqa"] = True
        return replace(settings, **changes) if changes else settings

    try:
        resolver = ConfigResolver(config_path, isolated, overrides)
    except ConfigError as error:
        raise DbleakError(str(error)) from None
    cache: Cache | None = None
    if not no_cache:
        from dbleak.cache import Cache, default_folder  # hashlib, pickle: for a cached run only

        cache = Cache(cache_dir or default_folder())
    options = RunOptions(fix=fix, unsafe_fixes=unsafe_fixes, diff=diff,
                         build_fixes=output_format in NEEDS_FIX_EDITS,
                         force_exclude=force_exclude, cache=cache, keep_until_exit=_HARD_EXIT)
    try:
        if show_settings or show_files:
            given = list(paths) or ([Path(stdin_filename)] if stdin_filename else [Path(".")])
            if show_settings:
                _show_settings(given[0], resolver)
            else:
                _show_files(given, resolver, force_exclude)
            sys.exit(EXIT_CLEAN)
        if paths == (Path("-"),) or (not paths and stdin_filename is not None):
            code = _check_stdin(resolver, options, stdin_filename, output_format, output_file,
                                quiet, show_fixes, adoption)
        else:
            observer = TerminalObserver(sys.stderr, progress=sys.stderr.isatty() and not quiet,
                                        verbose=verbose)
            code = _check_files(list(paths) or [Path(".")], resolver, options, output_format,
                                output_file, quiet, show_fixes, adoption, observer)
    except ConfigError as error:
        raise DbleakError(str(error)) from None
    if code == EXIT_FINDINGS and exit_zero:
        code = EXIT_CLEAN
    sys.exit(code)


def _pause_cyclic_gc() -> None:
    """Pause the cyclic garbage collector until the command ends. Importing the rules and their
    analyses makes only objects that live as long as the process, yet it set off ~35
    collections (~5 % of a one-file check); the run itself pauses it anyway
    (``runner.cyclic_gc_paused``). A process that ends with os._exit (``run``) leaves it
    paused: a collection as the command ends would walk everything the run kept (~0.4 s for
    a 4,000-file project index, see ``RunOptions.keep_until_exit``)."""
    if gc.isenabled():
        gc.disable()
        if not _HARD_EXIT:
            click.get_current_context().call_on_close(gc.enable)


def _config_arguments(values: Sequence[str]) -> tuple[Path | None, list[dict[str, Any]]]:
    """Split the `--config` values, as ruff does: the path of a file (at most one), or inline
    TOML `KEY = VALUE` options of `[tool.dbleak]`."""
    path: Path | None = None
    inline: list[dict[str, Any]] = []
    for value in values:
        if Path(value).is_file():
            if path is not None:
                raise click.BadParameter("only one configuration file may be given",
                                         param_hint="'--config'")
            path = Path(value)
            continue
        if "=" not in value:
            raise DbleakError(f"{value}: no such configuration file")
        inline.append(_inline_table(value))
    return path, inline


def _inline_table(value: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        return tomllib.loads(value)
    except tomllib.TOMLDecodeError as error:
        raise click.BadParameter(
            f"{value!r} is neither a configuration file nor a TOML `KEY = VALUE` "
            f"({error}); quote strings, e.g. 'target-version = \"py311\"'",
            param_hint="'--config'") from None


def _show_settings(path: Path, resolver: ConfigResolver) -> None:
    """As ruff's ``--show-settings``: which configuration applies to ``path``, and every value."""
    from dbleak.engine import active_rules
    from dbleak.registry import per_file_ignored
    from dbleak.settings import settings_lines

    settings = resolver.for_path(path)
    source = settings.config_path or "none (the defaults)"
    display = str(path)
    lines = [f"Resolved settings for: {display}", f"Settings path: {source}",
             f"Configuration root: {settings.root}", "", "[tool.dbleak]",
             *settings_lines(settings), "",
             "# per-file-ignores matching this file: "
             + (", ".join(per_file_ignored(display, settings)) or "none"),
             "# enabled rules for this file:"]
    lines.extend(f"#   {rule.code} {rule.name}" for rule in active_rules(display, settings))
    click.echo("\n".join(lines))


def _show_files(paths: list[Path], resolver: ConfigResolver, force_exclude: bool) -> None:
    """As ruff's ``--show-files``: the files a check would read, sorted, one per line."""
    from dbleak.discovery import discover

    missing: list[str] = []
    found = sorted({item.display for item in discover(
        paths, resolver.for_path, force_exclude,
        lambda path, error: missing.append(f"{path}: {error.strerror or error}"))})
    for display in found:
        click.echo(display)
    for message in missing:
        click.echo(f"dbleak: warning: {message}", err=True)
    if not found:
        click.echo("dbleak: warning: No Python files found under the given path(s)", err=True)


def _write_report(text: str, output_file: Path | None, to_stderr: bool = False,
                  color: bool = False) -> None:
    if not text:
        return
    if output_file is not None:
        try:
            output_file.parent.mkdir(parents=True, exist_ok=True)
            with open(output_file, "a", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as error:
            raise DbleakError(f"{output_file}: cannot write the report: "
                              f"{error.strerror or error}") from None
        return
    # ``color=True``: keep the escapes even into a pipe (FORCE_COLOR); None lets click decide.
    click.echo(text, nl=False, err=to_stderr, color=True if color else None)


@dataclass(frozen=True)
class Adoption:
    """The reporting options of `check` for CI and adoption: statistics, baseline, add-noqa."""

    statistics: bool = False
    baseline: Path | None = None
    write_baseline: Path | None = None
    add_noqa: bool = False
    runtime_report: Path | None = None


def _report(results: list[PathResult], output_format: str, output_file: Path | None, quiet: bool,
            options: RunOptions, show_fixes: bool, to_stderr: bool = False,
            adoption: Adoption = Adoption()) -> int:
    """Print the findings; returns the exit code."""
    from dbleak.models import Applicability, Finding
    from dbleak.report import ReportContext
    from dbleak.report.text import ansi, concise_line, full_block, plain, summary

    findings = sorted((f for r in results for f in r.result.findings), key=Finding.sort_key)
    internal = [e for r in results for e in r.result.internal_errors]
    notes = [n for r in results for n in r.notes] + [r.write_error for r in results if r.write_error]
    fixed = sum(r.result.fixes_applied for r in results if not options.diff)
    sources = {r.result.path: r.source for r in results if r.source is not None}
    adoption_notes: list[str] = []
    if adoption.baseline is not None or adoption.write_baseline is not None:
        from dbleak.baseline import BaselineError, record_or_filter

        try:
            findings, adoption_notes = record_or_filter(
                findings, sources, [r.result.path for r in results], adoption.baseline,
                adoption.write_baseline)
        except (BaselineError, OSError) as error:
            raise DbleakError(str(error)) from None
    if adoption.runtime_report is not None:
        findings, misses = _cross_check(findings, adoption.runtime_report, results)
        adoption_notes.extend(misses)
    if adoption.add_noqa:
        from dbleak.baseline import add_noqa_to_files

        added, warnings = add_noqa_to_files(findings, sources)
        for message in [*warnings, *internal]:
            click.echo(f"dbleak: {'error' if message in internal else 'warning'}: {message}", err=True)
        click.echo(f"Added {added} noqa directive{'s' if added != 1 else ''}.", err=True)
        return EXIT_ERROR if internal else EXIT_CLEAN
    if output_file is not None and output_file.exists():
        try:
            output_file.unlink()
        except OSError as error:
            raise DbleakError(f"{output_file}: cannot replace the report: "
                              f"{error.strerror or error}") from None
    if adoption.statistics:
        from dbleak.report.statistics import render_json as statistics_json
        from dbleak.report.statistics import render_text as statistics_text

        text = (statistics_json(findings) if output_format == "json" else statistics_text(findings))
        _write_report(text, output_file, to_stderr)
    elif output_format in TEXT_FORMATS:
        style = ansi if _use_color() and output_file is None and not to_stderr else plain
        sources = {r.result.path: r.source for r in results if r.source is not None}
        blocks: list[str] = []
        for finding in findings:
            if output_format == "concise":
                blocks.append(concise_line(finding, style, options.unsafe_fixes) + "\n")
            else:
                blocks.append(full_block(finding, sources.get(finding.path), style,
                                         options.unsafe_fixes) + "\n")
        text = "".join(blocks)
        if show_fixes and fixed:
            text += _fixes_listing(results)
        if not quiet:
            hidden = sum(1 for f in findings if f.plan is not None
                         and f.plan.applicability is Applicability.UNSAFE and not options.unsafe_fixes)
            text += "\n".join([*summary(findings, fixed, hidden, options.fix, options.unsafe_fixes),
                              *adoption_notes]) + "\n"
            adoption_notes = []
        _write_report(text, output_file, to_stderr, color=style is ansi)
    else:
        from dbleak.baseline import repository_root

        context = ReportContext(root=str(repository_root(Path.cwd())), sources=sources,
                                project_dir=os.environ.get("CI_PROJECT_DIR") or None,
                                checked_paths=tuple(r.result.path for r in results))
        _write_report(FORMATS[output_format](findings, context), output_file, to_stderr)
    for message in adoption_notes:
        click.echo(message, err=True)
    for message in [*notes, *internal]:
        click.echo(f"dbleak: {'error' if message in internal else 'warning'}: {message}", err=True)
    if internal:
        return EXIT_ERROR
    return EXIT_FINDINGS if findings else EXIT_CLEAN


def _cross_check(findings: list[Finding], report: Path,
                 results: list[PathResult]) -> tuple[list[Finding], list[str]]:
    """`--runtime-report`: the findings, those a runtime finding confirms marked, and one line per
    runtime finding in the checked files that no static finding covers (a miss)."""
    from dbleak.runtime.findings import RuntimeReportError, cross_check, load_runtime_report

    try:
        entries = load_runtime_report(report)
    except RuntimeReportError as error:
        raise DbleakError(str(error)) from None
    marked, misses = cross_check(findings, entries, [r.result.path for r in results])
    confirmed = sum(1 for old, new in zip(findings, marked) if old is not new)
    lines = [f"Runtime report {report}: {confirmed} finding{'s' if confirmed != 1 else ''} "
             f"confirmed, {len(misses)} runtime finding{'s' if len(misses) != 1 else ''} "
             "not found statically" + (":" if misses else ".")]
    lines.extend(f"  {m.filename}:{m.line}: {m.code} {m.message}" for m in misses)
    return marked, lines


def _fixes_listing(results: list[PathResult]) -> str:
    from dbleak.registry import rule_by_code

    lines = []
    total = sum(len(r.fixed_codes) for r in results)
    lines.append(f"\nFixed {total} error{'s' if total != 1 else ''}:")
    for r in sorted(results, key=lambda r: r.result.path):
        if not r.fixed_codes:
            continue
        lines.append(f"- {r.result.path}:")
        counts: dict[str, int] = {}
        for code in r.fixed_codes:
            counts[code] = counts.get(code, 0) + 1
        for code, count in sorted(counts.items()):
            rule = rule_by_code(code)
            lines.append(f"    {count} × {code} ({rule.name if rule else code})")
    return "\n".join(lines) + "\n\n"


def _unified_diff(path: str, old: str, new: str) -> str:
    import difflib

    return "".join(difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=path, tofile=path,
    ))


def _diff_exit(results: list[PathResult]) -> int:
    changed = [r for r in results if r.fixed is not None and r.original is not None]
    internal = [e for r in results for e in r.result.internal_errors]
    for r in changed:
        assert r.original is not None and r.fixed is not None
        click.echo(_unified_diff(r.result.path, r.original, r.fixed), nl=False)
    count = sum(len(r.fixed_codes) for r in changed)
    if count:
        click.echo(f"\nWould fix {count} error{'s' if count != 1 else ''}.", err=True)
    else:
        click.echo("No errors would be fixed.", err=True)
    for message in internal:
        click.echo(f"dbleak: error: {message}", err=True)
    if internal:
        return EXIT_ERROR
    return EXIT_FINDINGS if changed else EXIT_CLEAN


def _check_files(paths: list[Path], resolver: ConfigResolver, options: RunOptions,
                 output_format: str, output_file: Path | None, quiet: bool, show_fixes: bool,
                 adoption: Adoption = Adoption(), observer: RunObserver | None = None) -> int:
    from dbleak.api import check_paths

    results = list(check_paths(paths, resolver.for_path, options, observer=observer))
    if not results:
        # As ruff: say that nothing was checked rather than "All checks passed!".
        click.echo("dbleak: warning: No Python files found under the given path(s)", err=True)
        if options.diff or (output_format in TEXT_FORMATS and adoption == Adoption()):
            return EXIT_CLEAN
    if options.diff:
        return _diff_exit(results)
    return _report(results, output_format, output_file, quiet, options, show_fixes,
                   adoption=adoption)


def _read_stdin() -> bytes:
    """All of standard input; a closed or unreadable one is a usage error, not a traceback."""
    stream = sys.stdin
    if stream is None or stream.closed:
        raise DbleakError("-: standard input is closed; give files or pipe the source in")
    try:
        return stream.buffer.read()
    except (OSError, ValueError) as error:
        raise DbleakError(f"-: cannot read standard input: {error}") from None


def _check_stdin(resolver: ConfigResolver, options: RunOptions, stdin_filename: str | None,
                 output_format: str, output_file: Path | None, quiet: bool, show_fixes: bool,
                 adoption: Adoption = Adoption()) -> int:
    from dbleak.api import PathResult, disk_index, fix_source
    from dbleak.discovery import is_force_excluded
    from dbleak.fixing import with_fixes
    from dbleak.source import DecodeError, decode_source

    display = stdin_filename or "-"
    settings = resolver.for_path(Path(stdin_filename)) if stdin_filename else resolver.for_path(Path.cwd() / "-")
    data = _read_stdin()
    if (options.force_exclude and stdin_filename is not None
            and is_force_excluded(Path(stdin_filename), settings)):
        # As ruff: an excluded file read from stdin is passed through untouched and not checked
        # (editors and pre-commit hooks pass every file with --force-exclude).
        if options.fix:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return EXIT_CLEAN
    if not data:
        click.echo(f"dbleak: warning: {display}: standard input is empty; nothing to check", err=True)
    try:
        text = decode_source(data).text
    except DecodeError:
        text = None
    if text is None or not (options.fix or options.diff):
        from dbleak.engine import check_bytes

        result, decoded = check_bytes(data, display, settings, disk_index(display, settings))
        if decoded is not None and options.build_fixes:
            result = with_fixes(decoded, result)
        if options.fix and text is None:
            sys.stdout.buffer.write(data)
        return _report([PathResult(result, source=decoded)], output_format, output_file, quiet,
                       options, show_fixes, to_stderr=options.fix, adoption=adoption)
    outcome = fix_source(text, display, settings, unsafe=options.unsafe_fixes)
    if options.diff:
        if outcome.applied:
            click.echo(_unified_diff(display, text, outcome.text), nl=False)
            click.echo(f"\nWould fix {outcome.applied} error{'s' if outcome.applied != 1 else ''}.", err=True)
            return EXIT_FINDINGS
        click.echo("No errors would be fixed.", err=True)
        return EXIT_CLEAN
    click.echo(outcome.text, nl=False)
    result = replace(outcome.result, fixes_applied=outcome.applied)
    if options.build_fixes:
        result = with_fixes(outcome.text, result)
    return _report([PathResult(result, source=outcome.text, fixed_codes=outcome.fixed_codes,
                               notes=[f"{display}:{note}" for note in outcome.refused])],
                   output_format, output_file, quiet, options, show_fixes, to_stderr=True,
                   adoption=adoption)


@cli.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
def rule(code: str | None, show_all: bool) -> None:
    """Print the documentation of rule CODE (e.g. DBL104), or list them all with --all."""
    from dbleak.registry import all_rules, rule_by_code, runtime_rules

    if show_all or code is None:
        for r in all_rules():
            fix = {"always": "[*]", "sometimes": "[*]"}.get(r.fix_availability, "   ")
            default = "" if r.default_enabled else "  (off by default)"
            click.echo(f"{r.code} {fix} {r.name}{default}")
        for r in runtime_rules():
            click.echo(f"{r.code}     {r.name}  (pytest --dbleak only)")
        return
    found = rule_by_code(code)
    if found is None:
        raise DbleakError(f"unknown rule {code!r}; `dbleak rule --all` lists them")
    fix = {"always": "Fix is always available.", "sometimes": "Fix is sometimes available.",
           "none": "No fix."}[found.fix_availability]
    click.echo(f"# {found.name} ({found.code})\n\n{fix}\n"
               + ("" if found.default_enabled else "Off by default: enable it with `extend-select`.\n")
               + f"\n{found.documentation()}")


@cli.command()
@click.argument("driver", required=False)
@click.option("--markdown", is_flag=True, help="Print the Markdown of docs/drivers.md.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Include the [tool.dbleak.drivers] entries of this pyproject.toml or dbleak.toml.")
def drivers(driver: str | None, markdown: bool, config_path: Path | None) -> None:
    """Print the driver table (or only DRIVER, e.g. psycopg2): what `with`, close and cursors do."""
    from dbleak.knowledge.drivers import table_for
    from dbleak.knowledge.drivers_doc import render_markdown, render_text
    from dbleak.settings import ConfigError, ConfigResolver

    try:
        settings = ConfigResolver(config_path).for_path(Path.cwd())
    except ConfigError as error:
        raise DbleakError(str(error)) from None
    table = table_for(settings.drivers)
    if driver is not None and driver not in {d.name for d in table.drivers}:
        known = ", ".join(d.name for d in table.drivers)
        raise DbleakError(f"unknown driver {driver!r} (known: {known})")
    click.echo(render_markdown(table) if markdown else render_text(table, driver), nl=False)


@cli.command()
@click.argument("database")
@click.option("--max-rows", default=1000, show_default=True, type=click.IntRange(min=0),
              help="A table with at most this many rows is small.")
@click.option("--output-format", type=click.Choice(["toml", "json"]), default="toml",
              show_default=True, help="TOML to paste into pyproject.toml, or JSON of every size.")
def tables(database: str, max_rows: int, output_format: str) -> None:
    """List the small tables of DATABASE for `[tool.dbleak.sql] small-tables`.

    DATABASE is a SQLite file (or sqlite:///path), postgresql://… or mysql://… (read only).
    """
    import json

    from dbleak.tables import DatabaseError, render_toml, small_tables, table_sizes

    try:
        sizes = table_sizes(database, max_rows)
    except DatabaseError as error:
        raise DbleakError(str(error)) from None
    if output_format == "json":
        click.echo(json.dumps([{"table": s.name, "rows": s.rows, "small": s.rows <= max_rows}
                               for s in sizes], indent=2))
        return
    click.echo(render_toml(database, small_tables(sizes, max_rows), max_rows), nl=False)


@cli.command()
def server() -> None:
    """Run the language server over stdio (for editors; needs `pip install 'dbleak[lsp]'`)."""
    try:
        from dbleak.lsp import start_server
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        raise DbleakError(f"`dbleak server` needs {error.name}: "
                          "install it with `pip install 'dbleak[lsp]'`") from None
    start_server()


class Stopped(BaseException):
    """SIGINT or SIGTERM reached dbleak: stop the run (a BaseException, so that neither click nor
    a rule's error handling takes it for an error)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    raise Stopped(signum)


def main() -> None:
    """Entry point of the console script; keeps exit codes to 0/1/2 (128+N when stopped by
    signal N)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    try:
        cli.main(standalone_mode=False)
    except Stopped as stopped:
        name = signal.Signals(stopped.signum).name
        click.echo(f"dbleak: stopped by {name}; every file is either fixed whole or untouched",
                   err=True)
        sys.exit(128 + stopped.signum)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_ERROR)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - a bug in dbleak: one line and exit 2, never 1
        click.echo(f"dbleak: error: internal error: {type(error).__name__}: {error} "
                   "(please report this)", err=True)
        sys.exit(EXIT_ERROR)


# Set by `run`: the process ends with os._exit (in-process callers of `main`, tests among
# them, free what a run made).
_HARD_EXIT = False


def run() -> NoReturn:
    """The console script and ``python -m dbleak``: :func:`main`, then the process ends without
    the interpreter's teardown, as mypy's does (``mypy.util.hard_exit``). Once its output is
    flushed a command has nothing left to free, and the teardown (a collection of every object
    the run made, then each module freed) was ~10 ms, 6 %, of a one-file check. Workers are
    joined and files written (atomically) before the command returns."""
    global _HARD_EXIT
    _HARD_EXIT = True
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = _exit_status(exit_.code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe (`dbleak check | head`): nothing more can reach it
    os._exit(code)


def _exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` gives: None is 0, a number itself, anything else is
    printed to stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def __getattr__(name: str) -> Any:
    """``check_file`` and ``check_text``, which this module used to re-export (imported when
    first asked for)."""
    if name == "check_file":
        from dbleak.api import check_file

        return check_file
    if name == "check_text":
        from dbleak.engine import check_text

        return check_text
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["cli", "main"]
