"""Reports of verdicts as CSV and XLSX: one row per criterion of each unit, and the units'
totals, ranks and bands, built from verdicts or report rows (the service reads a batch's rows
from the store). Used by `kiemchung score`, `kiemchung batch` and the HTTP API.

A criterion row: unit, level, criterion, status, points, max_points, summary, files, failed
checks, override. In a batch report an item that could not be processed, or an input entry that
was refused (zip slip, bomb…), is a row with status `failed` and the reason as its summary; an
overridden verdict shows the override in force, with its reason.

Every text cell comes from outside (file and unit names, messages quoting documents), so a
cell starting with `= + - @`, a tab or a carriage return gets a leading `'` (OWASP's defence
against CSV injection): a spreadsheet shows it as text instead of running it as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kiemchung.models.errors import ExitCode, KiemchungError
from kiemchung.models.verdicts import Verdict, points_value
from kiemchung.verifier.ruleset import Level, RuleSet
from kiemchung.verifier.scoring import UnitTotal, score_units

CRITERION_HEADER = ("unit", "level", "criterion", "status", "points", "max_points", "summary",
                    "files", "failed_checks", "override")
UNIT_HEADER = ("unit", "level", "rank", "total", "achieved", "maximum", "band", "needs_review")
FAILED = "failed"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters an XLSX cell cannot hold (openpyxl refuses them): C0 controls but tab and newlines.
XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ReportError(KiemchungError):
    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class ReportRow:
    unit: str
    level: str
    criterion: str
    status: str
    points: float
    max_points: float
    summary: str
    files: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = ()
    override: str = ""

    def cells(self) -> tuple:
        return (self.unit, self.level, self.criterion, self.status, points_value(self.points),
                points_value(self.max_points), self.summary, "; ".join(self.files),
                " | ".join(self.failed_checks), self.override)


def failed_checks(checks: Iterable[dict]) -> tuple[str, ...]:
    """Checks that failed or need a person, as `name (file): message`."""
    found = []
    for check in checks:
        if check["status"] in ("fail", "needs_review"):
            where = f" ({Path(check['file']).name})" if check.get("file") else ""
            found.append(f"{check['name']}{where}: {check['message']}")
    return tuple(found)


def verdict_rows(verdicts_by_unit: dict[tuple[str, str], list[Verdict]]) -> list[ReportRow]:
    rows = []
    for (unit, level), verdicts in verdicts_by_unit.items():
        for v in verdicts:
            files = tuple(dict.fromkeys(Path(c.file).name for c in v.checks if c.file))
            rows.append(ReportRow(unit, level, v.criterion, v.status.value, v.points,
                                  v.max_points, v.summary, files,
                                  failed_checks(c.to_json() for c in v.checks)))
    return rows


def batch_totals(ruleset: RuleSet, rows: list[ReportRow], year: int) -> list[UnitTotal]:
    """Totals as `score` computes them. A criterion whose item failed counts as 0 of its
    points, pending review: leaving it out would raise the unit's percentage."""
    by_key: dict[tuple[str, str, str], ReportRow] = {}
    for row in rows:
        if not row.unit or not row.level:
            continue                         # a refused entry with no unit: nothing to total
        key = (row.unit, row.level, row.criterion)
        if key not in by_key or by_key[key].status == FAILED:
            by_key[key] = row
    verdicts_by_unit: dict[tuple[str, str], list[Verdict]] = {}
    for (unit, level, criterion), row in by_key.items():
        if row.status == FAILED:
            try:
                maximum = ruleset.criterion(criterion).points.get(Level(level), 0.0)
            except (KiemchungError, ValueError):
                continue
            verdict = Verdict(criterion, level, unit, year, 0.0, maximum, needs_review=True)
        else:
            verdict = Verdict(criterion, level, unit, year, row.points, row.max_points,
                              needs_review=row.status == "needs_review")
        verdicts_by_unit.setdefault((unit, level), []).append(verdict)
    return score_units(ruleset, verdicts_by_unit)


def safe_cell(value):
    """A text cell a spreadsheet shows as text, never runs; numbers as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_row(cells: Iterable) -> list:
    return [safe_cell(cell) for cell in cells]


def xlsx_row(cells: Iterable) -> list:
    return [XLSX_ILLEGAL.sub("\ufffd", cell) if isinstance(cell, str) else cell
            for cell in safe_row(cells)]


def csv_bytes(rows: list[ReportRow], totals: list[UnitTotal]) -> bytes:
    """Criterion rows with their unit's rank, total and band; UTF-8 with a BOM, as Excel
    needs to read Vietnamese."""
    ranks = {(t.unit, t.level): t for t in totals}
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CRITERION_HEADER + ("rank", "total", "band"))
    for row in rows:
        t = ranks.get((row.unit, row.level))
        writer.writerow(safe_row(row.cells() + ((t.rank, points_value(t.total), t.band or "")
                                                 if t else ("", "", ""))))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(rows: list[ReportRow], totals: list[UnitTotal]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "units"
    sheet.append(UNIT_HEADER)
    for t in totals:
        sheet.append(xlsx_row((t.unit, t.level, t.rank, points_value(t.total),
                                points_value(t.achieved), points_value(t.maximum),
                                t.band or "", t.pending_review)))
    sheet = book.create_sheet("criteria")
    sheet.append(CRITERION_HEADER)
    for row in rows:
        sheet.append(xlsx_row(row.cells()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_report(path: Path, rows: list[ReportRow], totals: list[UnitTotal]) -> None:
    """`.csv` or `.xlsx`, by the path's suffix."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ReportError(f"{path}: the report must be .csv or .xlsx")
    data = xlsx_bytes(rows, totals) if suffix == ".xlsx" else csv_bytes(rows, totals)
    try:
        path.write_bytes(data)
    except OSError as error:
        raise ReportError(f"{path}: cannot be written ({error.strerror or error})") from error
