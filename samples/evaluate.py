"""Field accuracy over a freshly generated corpus (`make eval`).

Each generated file is inspected as a user would (`inspect_file`) and every field compared with
the generator's ground truth. Identifiers (type, number, date, authority) must match exactly;
text fields are reported exactly and "near" (rapidfuzz ratio ≥ 95 on NFC text, i.e. about one
OCR slip in twenty characters).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz
from rich.console import Console
from rich.table import Table

from kiemchung.models.document import nfc
from samples.corpus import DEFAULT_VARIANTS, generate_corpus
from samples.spec import DocumentSpec

EXACT_FIELDS = ("doc_type", "number", "issue_date", "signer_authority")
TEXT_FIELDS = ("place", "issuer", "subject", "signer_name", "signer_title", "recipients")


def normalised(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = " | ".join(map(str, value))
    return re.sub(r"\s+", " ", nfc(str(value))).strip(" .;,:")


def matches(name: str, want, got) -> tuple[bool, bool]:
    """(exact, near) for one field: identifiers exactly; text fields also "near" at a
    rapidfuzz ratio of 95 or more on normalised NFC text."""
    a, b = normalised(want), normalised(got)
    if a == b:
        return True, True
    return False, bool(name in TEXT_FIELDS and a and b and fuzz.ratio(a, b) >= 95)


def expected(spec: DocumentSpec) -> dict:
    return {
        "doc_type": spec.doc_type.value, "number": spec.number,
        "issue_date": spec.issue_date.isoformat(), "place": spec.agency.place,
        "issuer": spec.agency.name, "subject": spec.subject_printed,
        "signer_name": spec.signer_name,
        "signer_title": spec.signer_title, "signer_authority": spec.authority,
        "recipients": [r.lstrip(" -+").rstrip(" ;.") for r in spec.recipients],
    }


def observed(result: dict) -> dict:
    signer = result.get("signer") or {}
    return {
        "doc_type": result["doc_type"], "number": result["number"],
        "issue_date": result["issue_date"], "place": result["place"], "issuer": result["issuer"],
        "subject": result["subject"], "signer_name": signer.get("name"),
        "signer_title": signer.get("title"), "signer_authority": signer.get("authority"),
        "recipients": result.get("recipients"),
    }


def _inspect(path: str) -> dict:
    from kiemchung.extractors.pipeline import inspect_file
    try:
        return inspect_file(Path(path)).to_json()
    except Exception as error:  # noqa: BLE001 - a failed file counts as wrong on every field
        return {"error": str(error)}


def evaluate(count: int, seed: int, workers: int, out: Path | None,
             variants: tuple[str, ...] = DEFAULT_VARIANTS) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        items = generate_corpus(Path(tmp), count=count, seed=seed, variants=variants)
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_inspect, [str(item.path) for item in items]))
    exact: dict = defaultdict(lambda: defaultdict(int))
    near: dict = defaultdict(lambda: defaultdict(int))
    totals: dict = defaultdict(int)
    mistakes = []
    for item, result in zip(items, results):
        totals[item.variant] += 1
        want = expected(item.spec)
        got = observed(result) if "error" not in result else {k: None for k in want}
        for name in want:
            is_exact, is_near = matches(name, want[name], got[name])
            exact[item.variant][name] += is_exact
            near[item.variant][name] += is_near
            if not is_exact:
                mistakes.append({"file": item.path.name, "variant": item.variant, "field": name,
                                 "expected": want[name], "got": got[name]})
    report: dict[str, Any] = {"count": len(items), "seed": seed, "variants": {}}
    for variant, total in totals.items():
        report["variants"][variant] = {
            "documents": total,
            "exact": {f: exact[variant][f] / total for f in EXACT_FIELDS + TEXT_FIELDS},
            "near": {f: near[variant][f] / total for f in TEXT_FIELDS},
        }
    report["mistakes"] = mistakes
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    return report


def print_report(report: dict) -> None:
    console = Console()
    variants = list(report["variants"])
    table = Table(title=f"field accuracy — {report['count']} files, seed {report['seed']}",
                  title_justify="left")
    table.add_column("field")
    for variant in variants:
        n = report["variants"][variant]["documents"]
        table.add_column(f"{variant} (n={n})", justify="right")
    for name in EXACT_FIELDS + TEXT_FIELDS:
        cells = []
        for variant in variants:
            data = report["variants"][variant]
            cell = f"{data['exact'][name]:.1%}"
            if name in TEXT_FIELDS:
                cell += f" / {data['near'][name]:.1%}"
            cells.append(cell)
        table.add_row(name + (" (exact / near)" if name in TEXT_FIELDS else ""), *cells)
    console.print(table)
    for mistake in report["mistakes"][:15]:
        console.print(f"[dim]{mistake['variant']} {mistake['file']} {mistake['field']}: "
                      f"expected {mistake['expected']!r}, got {mistake['got']!r}[/dim]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60, help="documents per variant")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help="comma-separated: digital, tcvn3, scan300, scan200, jpg, png, tiff")
    parser.add_argument("--out", type=Path, default=Path("eval-report.json"))
    args = parser.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    report = evaluate(args.count, args.seed, args.workers, args.out, variants)
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
