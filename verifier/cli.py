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
STATUS_STYLE = {"valid": "green", "untrusted": "yellow", "expired": "yellow"}

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
    """Trust roots from the settings (environment or settings file) plus --trust-root."""
    from extractors.signatures import load_trust

    return load_trust(list(load_settings().trust_roots) + list(extra or []))


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
    """Inspect the bundled sample documents (trusting the demo CA) and print what was read."""
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
    with console.status("reading samples…") as status:
        for path in files:
            status.update(f"reading {path.name}…")
            try:
                data = inspect_file(path, trust=trust).to_json()
            except KiemchungError as error:
                table.add_row(path.name, "[red]error[/red]", error.message, *[""] * 6)
                continue
            signer = data["signer"] or {}
            signatures = ", ".join(s["status"] for s in data["signatures"]) or "none"
            table.add_row(path.name, data["text_source"], data["doc_type"] or "—",
                          data["number"] or "—", data["issue_date"] or "—", data["issuer"] or "—",
                          " ".join(v for v in (signer.get("authority"), signer.get("name")) if v)
                          or "—", signatures, "yes" if data["has_seal"] else "no")
    console.print(table)


if __name__ == "__main__":
    app()
