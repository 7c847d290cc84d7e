"""Where the evidence of many units is: a folder laid out unit/criterion/files, or a manifest.

A manifest is a CSV file with the columns `unit`, `criterion`, `file` and optionally `level`;
`file` is relative to the manifest's folder. A unit's level comes from the `level` column or
option, else from its name ("Sở …" → so, "UBND huyện …" → huyen, "UBND xã …" → xa).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from kiemchung.checks.text import fold
from kiemchung.models.errors import ExitCode, KiemchungError
from kiemchung.verifier.ruleset import Level, RuleSet

EVIDENCE_SUFFIXES = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}


class EvidenceLayoutError(KiemchungError):
    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class EvidenceFile:
    unit: str
    level: Level
    criterion: str
    path: Path


@dataclass(frozen=True)
class EvidenceLayout:
    units: tuple[tuple[str, Level], ...]     # every unit, also one that gave no evidence
    files: tuple[EvidenceFile, ...]


def unit_level(name: str) -> Level | None:
    text = fold(name)
    if re.search(r"(^|\s)sở\s", text):
        return Level.SO
    if re.search(r"\b(huyện|thị xã|thành phố|quận)\b", text):
        return Level.HUYEN
    if re.search(r"\b(xã|phường|thị trấn)\b", text):
        return Level.XA
    return None


def _level_of(unit: str, given: str | Level | None) -> Level:
    if given:
        try:
            return Level(given)
        except ValueError:
            raise EvidenceLayoutError(f"{unit}: unknown level {given!r} (known: "
                                      f"{', '.join(lv.value for lv in Level)})") from None
    level = unit_level(unit)
    if level is None:
        raise EvidenceLayoutError(f"{unit}: cannot tell its level from the name; give the level")
    return level


def _known(ruleset: RuleSet, unit: str, level: Level, criterion: str, where: str) -> None:
    if criterion not in {c.id for c in ruleset.criteria(level)}:
        raise EvidenceLayoutError(f"{where}: {ruleset.id} has no criterion {criterion!r} for "
                                  f"level {level.value} (unit {unit})")


def evidence_from_folder(folder: Path, ruleset: RuleSet,
                         level: Level | None = None) -> EvidenceLayout:
    if not folder.is_dir():
        raise EvidenceLayoutError(f"{folder}: not a folder")
    units = sorted(p for p in folder.iterdir() if p.is_dir())
    if not units:
        raise EvidenceLayoutError(f"{folder}: no unit folders in it "
                                  "(expected unit/criterion/files)")
    found, levels = [], []
    for unit_dir in units:
        unit_level_ = _level_of(unit_dir.name, level)
        levels.append((unit_dir.name, unit_level_))
        for criterion_dir in sorted(p for p in unit_dir.iterdir() if p.is_dir()):
            _known(ruleset, unit_dir.name, unit_level_, criterion_dir.name, str(criterion_dir))
            found += [EvidenceFile(unit_dir.name, unit_level_, criterion_dir.name, path)
                      for path in sorted(criterion_dir.iterdir())
                      if path.is_file() and path.suffix.lower() in EVIDENCE_SUFFIXES]
    return EvidenceLayout(tuple(levels), tuple(found))


def evidence_from_manifest(manifest: Path, ruleset: RuleSet,
                           level: Level | None = None) -> EvidenceLayout:
    try:
        with manifest.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise EvidenceLayoutError(
            f"{manifest}: cannot be read as a CSV manifest ({error})") from error
    missing = {"unit", "criterion", "file"} - set(rows[0] if rows else ())
    if missing:
        raise EvidenceLayoutError(f"{manifest}: the manifest needs the columns unit, criterion, "
                                  f"file (missing: {', '.join(sorted(missing))})")
    found = []
    for number, row in enumerate(rows, start=2):
        unit = row["unit"].strip()
        unit_level_ = _level_of(unit, level or (row.get("level") or "").strip() or None)
        criterion = row["criterion"].strip()
        _known(ruleset, unit, unit_level_, criterion, f"{manifest}:{number}")
        path = (manifest.parent / row["file"].strip()).resolve()
        if not path.is_relative_to(manifest.parent.resolve()):
            raise EvidenceLayoutError(f"{manifest}:{number}: {row['file']!r} points outside the "
                                      "manifest's folder")
        found.append(EvidenceFile(unit, unit_level_, criterion, path))
    units = tuple(dict.fromkeys((f.unit, f.level) for f in found))
    return EvidenceLayout(units, tuple(found))
