"""`kiemchung reuse`: the evidence of a folder (laid out unit/criterion/files, as `kiemchung
score` reads it) searched for the same document handed in under other bytes — re-saved,
re-scanned, renamed, lightly edited — by two units, for two criteria, or (with `--earlier`)
in an earlier year."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from kiemchung.api.cli import common
from kiemchung.api.cli.common import (
    REQUIRED,
    LevelOption,
    RulesetOption,
    TrustRootOption,
    YearOption,
    run,
)
from kiemchung.models.errors import ExitCode
from kiemchung.verifier.settings import load_settings


def reuse(
    source: Annotated[Path, typer.Argument(help="folder laid out unit/criterion/files")],
    ruleset: RulesetOption = "hue-2024",
    year: YearOption = REQUIRED,
    level: LevelOption = None,
    earlier: Annotated[Optional[list[str]], typer.Option(
        help="another year's folder, laid out the same, as YEAR=FOLDER (repeatable)")] = None,
    trust_root: TrustRootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the pairs as JSON")] = False,
) -> None:
    """Find evidence handed in again: pairs of different files that are the same document,
    with their similarity and the number, date or issuer that differ."""
    from kiemchung.api import service
    from kiemchung.extractors.fingerprint import fingerprint
    from kiemchung.extractors.reader import read_file
    from kiemchung.verifier.evidence import evidence_from_folder
    from kiemchung.verifier.reuse import Facts, Submission, find_reuse, involving

    rules = common.ruleset(ruleset)
    folders = [(year, source)]
    for value in earlier or []:
        given_year, sep, given_folder = value.partition("=")
        if not sep or not given_year.strip().isdigit():
            common.fail(f"--earlier {value!r}: expected YEAR=FOLDER, e.g. 2023=evidence-2023",
                        ExitCode.BAD_INPUT)
        folders.append((int(given_year), Path(given_folder)))
    trust = common.trust(trust_root)
    dpi = load_settings().ocr_dpi
    submissions = []
    unreadable = []
    for in_year, folder in folders:
        layout = run(partial(evidence_from_folder, folder, rules, common.level(level)))
        for item in layout.files:
            found = run(partial(service.inspect_files, [item.path], trust, ocr_dpi=dpi))
            unreadable += [(str(item.path), u.reason) for u in found.unreadable]
            for inspection in found.inspections:
                fp = fingerprint(run(partial(read_file, item.path)), inspection.text)
                submissions.append(Submission(
                    inspection.text.sha256, item.unit, item.criterion, in_year,
                    Facts.of(inspection), fp,
                    name=_shown(item.path, folder)))
    pairs = involving(find_reuse(submissions), year=year)
    if as_json:
        typer.echo(json.dumps([p.to_json() for p in pairs], ensure_ascii=False, indent=2))
        return
    for path, reason in unreadable:
        common.console.print(f"[yellow]not read[/]: {path}: {reason}")
    if not pairs:
        common.console.print(f"no reused evidence among {len(submissions)} files")
        return
    table = Table(title=f"reused evidence, {rules.id} {year}")
    for column in ("first", "second", "why", "similarity and differences"):
        table.add_column(column, overflow="fold")
    for pair in pairs:
        table.add_row(*(f"{s.name} ({s.year})" for s in (pair.first, pair.second)),
                      ", ".join(pair.why), pair.summary)
    common.console.print(table)


def _shown(path: Path, folder: Path) -> str:
    """unit/criterion/file, as laid out."""
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path)
