"""The `kiemchung` command line. Thin: parse arguments, call the pipeline, render.

Every KiemchungError becomes one line on stderr and its exit code; nothing prints a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from models.errors import KiemchungError
from models.inspection import Inspection
from verifier.settings import load_settings

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Pre-screen DTI evidence documents (tài liệu kiểm chứng).")
console = Console()
DEMO_DIR = Path(__file__).resolve().parent.parent / "samples" / "demo"
EVIDENCE_SUFFIXES = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
STATUS_STYLE = {"valid": "green", "untrusted": "yellow", "expired": "yellow",
                "indeterminate": "yellow"}   # sound, but refused by policy (SHA-1)
VERDICT_STYLE = {"pass": "green", "partial": "yellow", "needs_review": "yellow",
                 "not_applicable": "dim"}

TrustRootOption = Annotated[Optional[list[Path]], typer.Option(
    "--trust-root", help="trusted root or intermediate certificate: PEM/DER file or folder "
                         "(repeatable; added to KIEMCHUNG_TRUST_ROOTS)")]


def _fail(message: str, code: int) -> None:
    print(f"kiemchung: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _run(action):
    try:
        return action()
    except KiemchungError as error:
        _fail(error.message, error.exit_code)
    except MemoryError:
        _fail("out of memory while reading the file", 4)
    except Exception as error:  # noqa: BLE001 - the contract: one clear line, never a traceback
        _fail(f"unexpected error ({type(error).__name__}): {error}", 70)


def _trust(extra: list[Path] | None):
    """Trust roots from the settings, the imported ones (`kiemchung trust add`) and --trust-root."""
    from extractors.signatures import load_trust

    settings = load_settings()
    imported = [settings.trust_dir] if settings.trust_dir.is_dir() else []
    return load_trust(list(settings.trust_roots) + imported + list(extra or []))


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


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="PDF or image (PNG/JPG/TIFF) evidence file")],
    trust_root: TrustRootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the contract's JSON object")] = False,
    ocr_dpi: Annotated[Optional[int], typer.Option(help="render dpi for pages needing OCR")] = None,
) -> None:
    """Say what one evidence file is, who issued it, when, and who signed it."""
    from extractors.pipeline import inspect_file

    trust = _run(lambda: _trust(trust_root))
    dpi = ocr_dpi or load_settings().ocr_dpi
    result = _run(lambda: inspect_file(file, trust=trust, ocr_dpi=dpi))
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        console.print(_fields_table(result))
        console.print(_signature_panel(result))


@app.command()
def demo() -> None:
    """Inspect the bundled samples (trusting the demo CA) and verify them against hue-2024."""
    from extractors.pipeline import inspect_file
    from extractors.signatures import load_trust

    files = sorted(p for p in DEMO_DIR.iterdir() if p.suffix.lower() in EVIDENCE_SUFFIXES)
    if not files:
        _fail(f"no sample files in {DEMO_DIR}", 2)
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


def _demo_verdicts(inspections: dict, trust) -> Table:
    """The criteria the demo manifest names, verified from the samples already inspected."""
    from verifier.evaluate import EvaluationContext, evaluate_criterion
    from verifier.ruleset import load_ruleset

    context = EvaluationContext(read_whole=read_whole_from_file(trust))
    manifest = json.loads((DEMO_DIR / "verify.json").read_text(encoding="utf-8"))
    ruleset = _run(lambda: load_ruleset(manifest["ruleset"]))
    table = Table(title=f"verdicts — {ruleset.id}", title_justify="left")
    for column in ("criterion", "level", "unit", "files", "status", "points", "why"):
        table.add_column(column, overflow="fold")
    for item in manifest["checks"]:
        evidence = [inspections[name] for name in item["files"] if name in inspections]
        verdict = evaluate_criterion(ruleset, item["criterion"], item["level"], item["unit"],
                                     item["year"], evidence, context=context)
        style = VERDICT_STYLE.get(verdict.status.value, "red")
        table.add_row(item["criterion"], item["level"], item["unit"], ", ".join(item["files"]),
                      f"[{style}]{verdict.status.value}[/{style}]",
                      f"{verdict.points:g}/{verdict.max_points:g}", verdict.summary)
    return table


# -- verification and scoring -----------------------------------------------------------------

VERDICT_STYLE = {"pass": "green", "partial": "yellow", "needs_review": "magenta", "fail": "red",
                 "not_applicable": "dim"}
RulesetOption = Annotated[str, typer.Option(
    "--ruleset", help="rule set id (see `kiemchung rulesets`) or a rule set YAML file")]


def _load_ruleset(value: str):
    from verifier.ruleset import load_ruleset, load_ruleset_file

    if value.endswith((".yaml", ".yml")) or Path(value).is_file():
        return load_ruleset_file(Path(value))
    return load_ruleset(value)


def _level(value: str | None):
    from verifier.ruleset import Level

    if value is None:
        return None
    try:
        return Level(value)
    except ValueError:
        _fail(f"unknown level {value!r} (known: {', '.join(lv.value for lv in Level)})", 2)


def _inspect_evidence(files: list[Path], trust) -> tuple[list[Inspection], list]:
    """Inspections of the files that can be read; the others named with the reason. A path
    that does not exist is a mistake on the command line, not evidence."""
    from extractors.pipeline import inspect_file
    from models.errors import InputFileError
    from verifier.evaluate import UnreadableFile

    dpi = load_settings().ocr_dpi
    inspections, unreadable = [], []
    for path in files:
        if not path.exists():
            raise InputFileError(f"{path}: no such file")
        try:
            inspections.append(inspect_file(path, trust=trust, ocr_dpi=dpi))
        except InputFileError as error:
            unreadable.append(UnreadableFile(str(path), error.message))
    return inspections, unreadable


def read_whole_from_file(trust):
    """For `EvaluationContext.read_whole`: the file an inspection was read from, read whole."""
    from extractors.pipeline import inspect_file

    dpi = load_settings().ocr_dpi
    return lambda partial: inspect_file(Path(partial.file), trust=trust, ocr_dpi=dpi,
                                        whole_text=True)


def totals_table(totals, title: str) -> Table:
    """Unit totals, ranks and bands, as `score` and `batch` print them."""
    table = Table(title=title, title_justify="left")
    for column in ("level", "rank", "unit", "total", "points", "band", "needs review"):
        table.add_column(column, overflow="fold")
    for t in totals:
        table.add_row(t.level, str(t.rank), t.unit, f"{t.total:g}",
                      f"{_points(round(t.achieved, 2))}/{_points(t.maximum)}", t.band or "—",
                      str(t.pending_review))
    return table


def _points(value: float) -> str:
    return f"{value:g}"


def _verdict_table(verdict, criterion_name: str) -> Table:
    style = VERDICT_STYLE.get(verdict.status.value, "")
    table = Table(title=f"{verdict.criterion} {criterion_name}: [{style}]"
                        f"{verdict.status.value.upper()}[/{style}] "
                        f"{_points(verdict.points)}/{_points(verdict.max_points)}",
                  title_justify="left", caption=verdict.summary, caption_justify="left")
    for column in ("status", "check", "file", "page", "message"):
        table.add_column(column, overflow="fold")
    for c in verdict.checks:
        s = VERDICT_STYLE.get(c.status.value, "")
        table.add_row(f"[{s}]{c.status.value}[/{s}]", c.name,
                      Path(c.file).name if c.file else "—", str(c.page or "—"), c.message)
    return table


@app.command()
def verify(
    files: Annotated[Optional[list[Path]], typer.Argument(help="evidence files")] = None,
    ruleset: RulesetOption = "hue-2024",
    criterion: Annotated[str, typer.Option(help="criterion id, e.g. 2.1")] = ...,
    level: Annotated[str, typer.Option(help="so, huyen or xa")] = ...,
    year: Annotated[int, typer.Option(help="the evaluated year")] = ...,
    unit: Annotated[Optional[str], typer.Option(help="the unit evaluated, e.g. "
                                                      "\"UBND huyện Phú Vang\"")] = None,
    trust_root: TrustRootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the contract's JSON object")]
    = False,
) -> None:
    """Judge one criterion for one unit from its evidence files: status, points, reasons."""
    from verifier.evaluate import EvaluationContext, evaluate_criterion

    rules = _run(lambda: _load_ruleset(ruleset))
    chosen = _run(lambda: rules.criterion(criterion))
    lv = _level(level)
    trust = _run(lambda: _trust(trust_root))
    inspections, unreadable = _run(lambda: _inspect_evidence(list(files or []), trust))
    result = _run(lambda: evaluate_criterion(
        rules, chosen.id, lv, unit, year, inspections,
        context=EvaluationContext(unreadable=tuple(unreadable),
                                  read_whole=read_whole_from_file(trust))))
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        console.print(_verdict_table(result, chosen.name))


@app.command()
def rulesets() -> None:
    """List the rule sets: id, name, levels, criteria, and where their totals disagree."""
    from verifier.evaluate import check_problems
    from verifier.ruleset import available_rulesets, load_ruleset_file

    table = Table(title="rule sets", title_justify="left")
    for column in ("id", "name", "levels", "criteria", "discrepancies"):
        table.add_column(column, overflow="fold")
    found = available_rulesets()
    if not found:
        _fail("no rule sets installed", 2)
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


@app.command()
def criteria(
    ruleset: Annotated[str, typer.Argument(help="rule set id or YAML file")],
    level: Annotated[Optional[str], typer.Option(help="only criteria of this level")] = None,
) -> None:
    """The criteria of a rule set with their points per level and what backs them."""
    from verifier.evaluate import check_problems

    rules = _run(lambda: _load_ruleset(ruleset))
    lv = _level(level)
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
        table.add_row(c.id, c.name, *[_points(c.points[x]) if x in c.points else "—"
                                      for x in levels], backed)
    table.add_section()
    table.add_row("", f"total ({len(shown)} criteria)",
                  *[_points(rules.computed_totals(x).points) for x in levels], "")
    console.print(table)
    for problem in rules.discrepancies() + check_problems(rules):
        console.print(f"[yellow]discrepancy:[/yellow] {problem}")


@app.command()
def score(
    source: Annotated[Path, typer.Argument(
        help="folder laid out unit/criterion/files, or a manifest CSV (unit,criterion,file"
             "[,level])")],
    ruleset: RulesetOption = "hue-2024",
    year: Annotated[int, typer.Option(help="the evaluated year")] = ...,
    level: Annotated[Optional[str], typer.Option(help="level of every unit (else read from "
                                                      "the unit's name)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write report.csv or report.xlsx")] = None,
    trust_root: TrustRootOption = None,
) -> None:
    """Score every unit on every criterion of its level, rank them, band them."""
    from rich.progress import Progress

    from verifier.evidence import evidence_from_folder, evidence_from_manifest
    from verifier.scoring import evaluate_units

    rules = _run(lambda: _load_ruleset(ruleset))
    if out is not None and out.suffix.lower() not in (".csv", ".xlsx"):
        _fail(f"{out}: the report must be .csv or .xlsx", 2)
    read = evidence_from_manifest if source.suffix.lower() == ".csv" else evidence_from_folder
    layout = _run(lambda: read(source, rules, _level(level)))
    trust = _run(lambda: _trust(trust_root))

    evidence: dict[tuple[str, str], dict] = {(unit, lv.value): {} for unit, lv in layout.units}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("reading evidence", total=len(layout.files))
        for item in layout.files:
            progress.update(task, description=f"{item.unit}/{item.criterion}/{item.path.name}")
            inspections, unreadable = evidence[(item.unit, item.level.value)].setdefault(
                item.criterion, ([], []))
            found, failed = _run(lambda: _inspect_evidence([item.path], trust))
            inspections += found
            unreadable += failed
            progress.advance(task)
    totals, verdicts_by_unit = _run(lambda: evaluate_units(
        rules, year, evidence, read_whole=read_whole_from_file(trust)))

    console.print(totals_table(totals, f"{rules.id} {year}"))
    if out is not None:
        from api.reports import verdict_rows, write_report

        _run(lambda: write_report(out, verdict_rows(verdicts_by_unit), totals))
        console.print(f"report written to {out}")


from verifier.trust_cli import trust_app  # noqa: E402 - registered after the shared helpers

app.add_typer(trust_app, name="trust")

from api.keys_cli import keys_app  # noqa: E402

app.add_typer(keys_app, name="keys")

from api.batch_cli import register_batch_commands  # noqa: E402

register_batch_commands(app)

from api.serve_cli import db_app, serve  # noqa: E402

app.command("serve")(serve)
app.add_typer(db_app, name="db")

if __name__ == "__main__":
    app()
