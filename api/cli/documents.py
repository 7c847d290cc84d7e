"""`kiemchung inspect`, `verify`, `score`, `rulesets`, `criteria` and `demo`: evidence files on
disk, read and judged through the service layer, rendered for a person or as the contract's JSON.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from kiemchung.api import service
from kiemchung.api.cli import common
from kiemchung.api.cli.common import (
    REQUIRED,
    LevelOption,
    ReportOption,
    RulesetOption,
    TrustRootOption,
    YearOption,
    console,
    fail,
    points,
    run,
)
from kiemchung.api.demo_site import DEMO_DIR
from kiemchung.models.errors import ExitCode, KiemchungError
from kiemchung.models.inspection import Inspection
from kiemchung.verifier.settings import load_settings

# The bundled samples, inside the installed package (`make samples` rebuilds them).
EVIDENCE_SUFFIXES = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
STATUS_STYLE = {"valid": "green", "untrusted": "yellow", "expired": "yellow",
                "indeterminate": "yellow"}   # sound, but refused by policy (SHA-1)

def _fields_table(result: Inspection) -> Table:
    data = result.to_json()
    table = Table(title=Path(result.file).name, title_justify="left")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    table.add_column("conf.", justify="right")
    table.add_column("from")
    for name, detail in data["fields"].items():
        if detail is None:
            table.add_row(name, "[dim]—[/dim]", "", "")
            continue
        value = detail["value"]
        if isinstance(value, dict):
            value = " ".join(str(value[k]) for k in ("authority", "title", "name") if value.get(k))
        elif isinstance(value, list):
            value = "; ".join(value)
        table.add_row(name, str(value), f"{detail['confidence']:.2f}", f"p.{detail['page']}")
    table.caption = (f"{data['pages']} page(s), text from {data['text_source']}, "
                     f"sha256 {data['sha256'][:12]}…")
    return table


def _signature_panel(result: Inspection) -> Panel:
    """What a non-expert needs: who signed, when, and whether the file is unchanged since."""
    lines = []
    for report in result.signatures:
        style = STATUS_STYLE.get(report.status, "red")
        when = report.signing_time.strftime("%d/%m/%Y %H:%M") if report.signing_time else "?"
        who = report.signer_name + (f" — {report.signer_org}" if report.signer_org else "")
        lines.append(f"[{style}]● {report.status.upper()}[/{style}]  {who}, signed {when}\n"
                     f"   {report.reason}")
    if not lines:
        lines.append("[yellow]No digital signature in this file.[/yellow]")
    marks = result.marks
    if marks.has_seal:
        seal = marks.seals[0]
        lines.append(f"Red seal (con dấu) found on page {seal.page}.")
    if marks.has_handwriting:
        lines.append(f"Handwritten signature found on page {marks.handwriting[0].page}.")
    return Panel(Group(*lines), title="signatures and seal", title_align="left")


def inspect(
    file: Annotated[Path, typer.Argument(help="PDF or image (PNG/JPG/TIFF) evidence file")],
    trust_root: TrustRootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the contract's JSON object")]
    = False,
    ocr_dpi: Annotated[Optional[int], typer.Option(help="render dpi for pages needing OCR")] = None,
) -> None:
    """Say what one evidence file is, who issued it, when, and who signed it."""
    from kiemchung.extractors.ocr import parallel_ocr
    from kiemchung.extractors.pipeline import inspect_file

    trust = common.trust(trust_root)
    dpi = ocr_dpi or load_settings().ocr_dpi

    def read():
        with parallel_ocr(os.cpu_count() or 1):     # one file: every core on its scan
            return inspect_file(file, trust=trust, ocr_dpi=dpi)

    result = run(read)
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        console.print(_fields_table(result))
        console.print(_signature_panel(result))


def demo() -> None:
    """Inspect the bundled samples (trusting the demo CA) and verify them against hue-2024."""
    from kiemchung.extractors.pipeline import inspect_file
    from kiemchung.extractors.signatures import load_trust

    files = sorted(p for p in DEMO_DIR.iterdir() if p.suffix.lower() in EVIDENCE_SUFFIXES)
    if not files:
        fail(f"no sample files in {DEMO_DIR}", ExitCode.BAD_INPUT)
    trust = load_trust([DEMO_DIR / "trust"])   # the demo CA is trusted here and nowhere else
    table = Table(title="kiemchung — bundled samples", title_justify="left")
    for column in ("file", "text", "type", "number", "issued", "issuer", "signer", "signatures",
                   "seal"):
        table.add_column(column, overflow="fold")
    inspections = {}
    with console.status("reading samples…") as status:
        for path in files:
            status.update(f"reading {path.name}…")
            try:
                inspections[path.name] = result = inspect_file(path, trust=trust)
            except KiemchungError as error:
                table.add_row(path.name, "[red]error[/red]", error.message, *[""] * 6)
                continue
            data = result.to_json()
            signer = data["signer"] or {}
            signatures = ", ".join(s["status"] for s in data["signatures"]) or "none"
            table.add_row(path.name, data["text_source"], data["doc_type"] or "—",
                          data["number"] or "—", data["issue_date"] or "—", data["issuer"] or "—",
                          " ".join(v for v in (signer.get("authority"), signer.get("name")) if v)
                          or "—", signatures, "yes" if data["has_seal"] else "no")
    console.print(table)
    console.print(_demo_verdicts(inspections, trust))
    _demo_pages()


def _demo_pages() -> None:
    """The web pages over the same samples: prepared in a data dir of their own."""
    from kiemchung.api.demo_site import (
        DEMO_PASSWORD,
        DEMO_USERS,
        demo_settings,
        prepare_demo_site,
    )

    settings = demo_settings()
    with console.status("preparing the web pages' demo…"):
        run(lambda: prepare_demo_site(settings))
    accounts = Table(title="web pages — demo accounts (password: "
                           f"{DEMO_PASSWORD})", title_justify="left")
    for column in ("user", "role", "unit"):
        accounts.add_column(column)
    for username, (role, unit, _shown) in DEMO_USERS.items():
        accounts.add_row(username, role, unit or "—")
    console.print(accounts)
    console.print("start them with [bold].venv/bin/kiemchung serve --demo[/bold] (or "
                  "[bold]make serve-demo[/bold]) and open [bold]http://127.0.0.1:8000/[/bold]; "
                  f"the demo's data is in {settings.data_dir}", highlight=False)


def _demo_verdicts(inspections: dict, trust) -> Table:
    """The criteria the demo manifest names, verified from the samples already inspected."""
    read_whole = service.read_whole_from_files(trust, load_settings().ocr_dpi)
    manifest = json.loads((DEMO_DIR / "verify.json").read_text(encoding="utf-8"))
    ruleset = common.ruleset(manifest["ruleset"])
    table = Table(title=f"verdicts — {ruleset.id}", title_justify="left")
    for column in ("criterion", "level", "unit", "files", "status", "points", "why"):
        table.add_column(column, overflow="fold")
    for item in manifest["checks"]:
        evidence = service.Evidence([inspections[name] for name in item["files"]
                                     if name in inspections])
        verdict = service.verify(ruleset, item["criterion"], item["level"], item["unit"],
                                 item["year"], evidence, read_whole=read_whole)
        style = VERDICT_STYLE.get(verdict.status.value, "red")
        table.add_row(item["criterion"], item["level"], item["unit"], ", ".join(item["files"]),
                      f"[{style}]{verdict.status.value}[/{style}]",
                      f"{verdict.points:g}/{verdict.max_points:g}", verdict.summary)
    return table


# -- verification and scoring -----------------------------------------------------------------

VERDICT_STYLE = {"pass": "green", "partial": "yellow", "needs_review": "magenta", "fail": "red",
                 "not_applicable": "dim"}
def _verdict_table(verdict, criterion_name: str) -> Table:
    style = VERDICT_STYLE.get(verdict.status.value, "")
    table = Table(title=f"{verdict.criterion} {criterion_name}: [{style}]"
                        f"{verdict.status.value.upper()}[/{style}] "
                        f"{points(verdict.points)}/{points(verdict.max_points)}",
                  title_justify="left", caption=verdict.summary, caption_justify="left")
    for column in ("status", "check", "file", "page", "message"):
        table.add_column(column, overflow="fold")
    for c in verdict.checks:
        s = VERDICT_STYLE.get(c.status.value, "")
        table.add_row(f"[{s}]{c.status.value}[/{s}]", c.name,
                      Path(c.file).name if c.file else "—", str(c.page or "—"), c.message)
    return table


def verify(
    files: Annotated[Optional[list[Path]], typer.Argument(help="evidence files")] = None,
    ruleset: RulesetOption = "hue-2024",
    criterion: Annotated[str, typer.Option(help="criterion id, e.g. 2.1")] = REQUIRED,
    level: Annotated[str, typer.Option(help="so, huyen or xa")] = REQUIRED,
    year: YearOption = REQUIRED,
    unit: Annotated[Optional[str], typer.Option(help="the unit evaluated, e.g. "
                                                      "\"UBND huyện Phú Vang\"")] = None,
    trust_root: TrustRootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the contract's JSON object")]
    = False,
) -> None:
    """Judge one criterion for one unit from its evidence files: status, points, reasons."""
    rules = common.ruleset(ruleset)
    chosen = run(lambda: rules.criterion(criterion))
    lv = common.level(level)
    trust = common.trust(trust_root)
    dpi = load_settings().ocr_dpi
    evidence = run(lambda: service.inspect_files(list(files or []), trust, ocr_dpi=dpi))
    result = run(lambda: service.verify(rules, chosen.id, lv, unit, year, evidence,
                                        read_whole=service.read_whole_from_files(trust, dpi)))
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        console.print(_verdict_table(result, chosen.name))


def rulesets() -> None:
    """List the rule sets: id, name, levels, criteria, and where their totals disagree."""
    from kiemchung.verifier.evaluate import check_problems
    from kiemchung.verifier.ruleset import available_rulesets, load_ruleset_file

    table = Table(title="rule sets", title_justify="left")
    for column in ("id", "name", "levels", "criteria", "discrepancies"):
        table.add_column(column, overflow="fold")
    found = available_rulesets()
    if not found:
        fail("no rule sets installed", ExitCode.BAD_INPUT)
    for ruleset_id, path in found.items():
        try:
            rules = load_ruleset_file(path)
        except KiemchungError as error:
            table.add_row(ruleset_id, "[red]cannot be loaded[/red]", "", "", error.message)
            continue
        problems = rules.discrepancies() + check_problems(rules)
        table.add_row(rules.id, rules.name, ", ".join(lv.value for lv in rules.levels),
                      str(len(rules.criteria())), "\n".join(problems) or "—")
    console.print(table)


def criteria(
    ruleset: Annotated[str, typer.Argument(help="rule set id or YAML file")],
    level: Annotated[Optional[str], typer.Option(help="only criteria of this level")] = None,
) -> None:
    """The criteria of a rule set with their points per level and what backs them."""
    from kiemchung.verifier.evaluate import check_problems

    rules = common.ruleset(ruleset)
    lv = common.level(level)
    levels = [lv] if lv else list(rules.levels)
    table = Table(title=f"{rules.id}: {rules.name}", title_justify="left")
    table.add_column("id")
    table.add_column("criterion", overflow="fold")
    for each in levels:
        table.add_column(each.value, justify="right")
    table.add_column("backed by")
    shown = rules.criteria(lv)
    for c in shown:
        backed = c.backed_by + (f" ({c.platform})" if c.platform else "")
        table.add_row(c.id, c.name, *[points(c.points[x]) if x in c.points else "—"
                                      for x in levels], backed)
    table.add_section()
    table.add_row("", f"total ({len(shown)} criteria)",
                  *[points(rules.computed_totals(x).points) for x in levels], "")
    console.print(table)
    for problem in rules.discrepancies() + check_problems(rules):
        console.print(f"[yellow]discrepancy:[/yellow] {problem}")


def score(
    source: Annotated[Path, typer.Argument(
        help="folder laid out unit/criterion/files, or a manifest CSV (unit,criterion,file"
             "[,level])")],
    ruleset: RulesetOption = "hue-2024",
    year: YearOption = REQUIRED,
    level: LevelOption = None,
    out: ReportOption = None,
    trust_root: TrustRootOption = None,
) -> None:
    """Score every unit on every criterion of its level, rank them, band them."""
    from rich.progress import Progress

    from kiemchung.verifier.evidence import evidence_from_folder, evidence_from_manifest
    from kiemchung.verifier.reports import verdict_rows, write_report

    rules = common.ruleset(ruleset)
    out = common.report_path(out)
    read = evidence_from_manifest if source.suffix.lower() == ".csv" else evidence_from_folder
    layout = run(lambda: read(source, rules, common.level(level)))
    trust = common.trust(trust_root)
    dpi = load_settings().ocr_dpi

    evidence: dict[tuple[str, str], dict[str, service.Evidence]] = {
        (unit, lv.value): {} for unit, lv in layout.units}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("reading evidence", total=len(layout.files))
        for item in layout.files:
            progress.update(task, description=f"{item.unit}/{item.criterion}/{item.path.name}")
            found = run(partial(service.inspect_files, [item.path], trust, ocr_dpi=dpi))
            evidence[(item.unit, item.level.value)].setdefault(
                item.criterion, service.Evidence()).add(found)
            progress.advance(task)
    totals, verdicts_by_unit = run(lambda: service.score(
        rules, year, evidence, read_whole=service.read_whole_from_files(trust, dpi)))

    console.print(common.totals_table(totals, f"{rules.id} {year}"))
    if out is not None:
        run(lambda: write_report(out, verdict_rows(verdicts_by_unit), totals))
        console.print(f"report written to {out}")
