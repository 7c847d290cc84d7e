"""What every `kiemchung` command shares: one clear line and its exit code instead of a
traceback (`fail`, `run`), the console, and the options several commands take."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from kiemchung.models.errors import ExitCode, KiemchungError

console = Console()
T = TypeVar("T")

TrustRootOption = Annotated[Optional[list[Path]], typer.Option(
    "--trust-root", help="trusted root or intermediate certificate: PEM/DER file or folder "
                         "(repeatable; added to KIEMCHUNG_TRUST_ROOTS)")]
RulesetOption = Annotated[str, typer.Option(
    "--ruleset", help="rule set id (see `kiemchung rulesets`) or a rule set YAML file")]
LevelOption = Annotated[Optional[str], typer.Option(
    help="level of every unit (else read from the unit's name)")]
ReportOption = Annotated[Optional[Path], typer.Option(help="write report.csv or report.xlsx")]
YearOption = Annotated[int, typer.Option(help="the evaluated year")]
# The default of an option that must be given: typer reads `...` as "required". Typed Any, as
# the Ellipsis stands in for a str or an int.
REQUIRED: Any = ...


def fail(message: str, code: ExitCode) -> NoReturn:
    """One line on stderr, and the exit code."""
    print(f"kiemchung: {message}", file=sys.stderr)
    raise typer.Exit(int(code))


def run(action: Callable[[], T]) -> T:
    """`action()`, with every error it raises turned into one line and its exit code."""
    try:
        return action()
    except KiemchungError as error:
        fail(error.message, error.exit_code)
    except MemoryError:
        fail("out of memory while reading the file", ExitCode.OUT_OF_MEMORY)
    except Exception as error:  # noqa: BLE001 - the contract: one clear line, never a traceback
        fail(f"unexpected error ({type(error).__name__}): {error}", ExitCode.UNEXPECTED)


def trust(extra: list[Path] | None):
    """Trust roots from the settings, the imported ones (`kiemchung trust add`) and --trust-root."""
    from kiemchung.api.service import load_trust_roots
    from kiemchung.verifier.settings import load_settings

    return run(lambda: load_trust_roots(load_settings(), extra or ()))


def ruleset(value: str):
    """A rule set by id, or from a YAML file."""
    from kiemchung.verifier.ruleset import load_ruleset, load_ruleset_file

    if value.endswith((".yaml", ".yml")) or Path(value).is_file():
        return run(lambda: load_ruleset_file(Path(value)))
    return run(lambda: load_ruleset(value))


def level(value: str | None):
    from kiemchung.verifier.ruleset import Level

    if value is None:
        return None
    try:
        return Level(value)
    except ValueError:
        fail(f"unknown level {value!r} (known: {', '.join(lv.value for lv in Level)})",
             ExitCode.BAD_INPUT)


def report_path(out: Path | None) -> Path | None:
    if out is not None and out.suffix.lower() not in (".csv", ".xlsx"):
        fail(f"{out}: the report must be .csv or .xlsx", ExitCode.BAD_INPUT)
    return out


def points(value: float) -> str:
    return f"{value:g}"


def totals_table(totals, title: str) -> Table:
    """Unit totals, ranks and bands, as `score` and `batch` print them."""
    table = Table(title=title, title_justify="left")
    for column in ("level", "rank", "unit", "total", "points", "band", "needs review"):
        table.add_column(column, overflow="fold")
    for t in totals:
        table.add_row(t.level, str(t.rank), t.unit, f"{t.total:g}",
                      f"{points(round(t.achieved, 2))}/{points(t.maximum)}", t.band or "—",
                      str(t.pending_review))
    return table
