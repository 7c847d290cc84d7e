"""Field accuracy on the real documents of `../shared/realdocs` (`make eval-real`).

Each labelled file is inspected as a user would (`inspect_file`, trust roots from
`../shared/trust`) and its fields compared with the hand-made labels, per kind of file
(born-digital signed, signed scan, scan, photo). Identifiers (type, number, date, authority)
must match exactly; text fields count when they match "near" (rapidfuzz ratio ≥ 95 on
normalised NFC text, see samples/evaluate.py), and the exact share is shown beside. Fields in a
label's `unsure` list are not counted. Every miss is listed with the confidence the product
gave it: a wrong value at confidence ≥ 0.9 is worse than none.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from samples.evaluate import matches

SHARED = Path(__file__).resolve().parents[2] / "shared"
REALDOCS = SHARED / "realdocs"
TRUST = SHARED / "trust"
KINDS = ("born_digital_signed", "scan_signed", "scan", "photo")
FIELDS = ("doc_type", "number", "issue_date", "place", "issuer", "issuer_parent", "subject",
          "signer_name", "signer_title", "signer_authority")
# A label field for each reported one (the contract's names on the right).
REPORTED = {"issuer_parent": "superior_agency"}
CONFIDENT = 0.9


def expected(label: dict) -> dict:
    doc_type = label["doc_subtype"] if label["doc_type"] == "other" else label["doc_type"]
    return {"doc_type": doc_type, "number": label["number"], "issue_date": label["issue_date"],
            "place": label["place"], "issuer": label["issuer"],
            "issuer_parent": label["issuer_parent"], "subject": label["subject"],
            "signer_name": label["signer_name"], "signer_title": label["signer_title"],
            "signer_authority": label["signer_authority"]}


def observed(result: dict) -> dict[str, tuple[object, float | None]]:
    """Each field's value and the confidence the product gave it."""
    fields = result.get("fields") or {}

    def field(name: str, key: str | None = None):
        item = fields.get(name)
        if not item:
            return None, None
        value = item["value"]
        if key is not None:
            value = (value or {}).get(key)
        return value, item["confidence"]

    return {"doc_type": field("doc_type"), "number": field("number"),
            "issue_date": field("issue_date"), "place": field("place"),
            "issuer": field("issuer"), "issuer_parent": field("superior_agency"),
            "subject": field("subject"), "signer_name": field("signer", "name"),
            "signer_title": field("signer", "title"),
            "signer_authority": field("signer", "authority")}


def _inspect(path: str) -> dict:
    from kiemchung.extractors.pipeline import inspect_file
    from kiemchung.extractors.signatures import load_trust
    started = time.perf_counter()
    try:
        trust = load_trust([TRUST]) if TRUST.is_dir() else None
        result = inspect_file(Path(path), trust=trust).to_json()
    except Exception as error:  # noqa: BLE001 - a failed file counts as wrong on every field
        result = {"error": f"{type(error).__name__}: {error}"}
    result["seconds"] = time.perf_counter() - started
    return result


def evaluate(realdocs: Path, workers: int, only: str | None = None) -> dict:
    labels = json.loads((realdocs / "labels.json").read_text(encoding="utf-8"))["files"]
    if only:
        labels = [lb for lb in labels if only in lb["file"]]
    paths = [str(realdocs / lb["file"]) for lb in labels]
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(_inspect, paths))
    counted: dict = defaultdict(lambda: defaultdict(int))
    right: dict = defaultdict(lambda: defaultdict(int))
    exact: dict = defaultdict(lambda: defaultdict(int))
    misses, files = [], []
    confident_wrong = 0
    for label, result in zip(labels, results):
        kind = label["kind"]
        want = expected(label)
        got = observed(result)
        files.append({"file": label["file"], "kind": kind, "pages": label["pages"],
                      "seconds": round(result["seconds"], 2), "error": result.get("error"),
                      "page_sources": result.get("page_sources"),
                      "signatures": [{k: s.get(k) for k in ("signer_name", "role", "status",
                                                            "warnings", "reason")}
                                     for s in result.get("signatures", [])]})
        for name in FIELDS:
            if name in label.get("unsure", ()):
                continue
            value, confidence = got[name]
            is_exact, is_near = matches(name, want[name], value)
            ok = is_exact or (is_near and name not in ("doc_type", "number", "issue_date",
                                                         "signer_authority"))
            counted[kind][name] += 1
            right[kind][name] += ok
            exact[kind][name] += is_exact
            if not ok:
                wrong_confident = value is not None and (confidence or 0) >= CONFIDENT
                confident_wrong += wrong_confident
                misses.append({"file": Path(label["file"]).name, "kind": kind, "field": name,
                               "expected": want[name], "got": value,
                               "confidence": confidence, "confident_wrong": wrong_confident})
    report: dict = {"documents": len(labels), "kinds": {}, "confident_wrong": confident_wrong}
    for kind in KINDS:
        if kind not in counted:
            continue
        n = sum(counted[kind].values())
        report["kinds"][kind] = {
            "documents": sum(1 for lb in labels if lb["kind"] == kind),
            "fields": {f: {"right": right[kind][f], "exact": exact[kind][f],
                           "counted": counted[kind][f]} for f in FIELDS if counted[kind][f]},
            "all": sum(right[kind].values()) / n if n else 0.0,
        }
    total = sum(sum(c.values()) for c in counted.values())
    report["all"] = sum(sum(r.values()) for r in right.values()) / total if total else 0.0
    report["misses"] = misses
    report["files"] = files
    return report


def print_report(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    kinds = list(report["kinds"])
    table = Table(title=f"real documents — {report['documents']} files, "
                        f"{report['all']:.1%} of fields right", title_justify="left")
    table.add_column("field")
    for kind in kinds:
        table.add_column(f"{kind} (n={report['kinds'][kind]['documents']})", justify="right")
    for name in FIELDS:
        cells = []
        for kind in kinds:
            cell = report["kinds"][kind]["fields"].get(name)
            cells.append("—" if not cell else
                         f"{cell['right'] / cell['counted']:.0%} "
                         f"({cell['right']}/{cell['counted']})")
        table.add_row(name, *cells)
    table.add_row("all", *(f"{report['kinds'][k]['all']:.1%}" for k in kinds))
    console.print(table)
    console.print(f"wrong values with confidence ≥ {CONFIDENT}: {report['confident_wrong']}")
    for miss in report["misses"]:
        flag = " [bold red]CONFIDENT[/bold red]" if miss["confident_wrong"] else ""
        console.print(f"[dim]{miss['file']} {miss['field']}: expected {miss['expected']!r}, got "
                      f"{miss['got']!r} ({miss['confidence']}){flag}[/dim]", markup=True,
                      highlight=False)
    sigs = Table(title="signatures", title_justify="left")
    for column in ("file", "signer", "role", "status", "warnings", "reason"):
        sigs.add_column(column, overflow="fold")
    for item in report["files"]:
        if item["error"]:
            console.print(f"[red]{item['file']}: {item['error']}[/red]")
        for s in item["signatures"]:
            sigs.add_row(Path(item["file"]).name[:28], str(s["signer_name"]),
                         str(s.get("role") or "—"), str(s["status"]),
                         "; ".join(s.get("warnings") or ()), str(s["reason"])[:140])
    console.print(sigs)
    per_page = [f["seconds"] / max(1, f["pages"]) for f in report["files"]]
    console.print(f"seconds per page: median {sorted(per_page)[len(per_page) // 2]:.2f}, "
                  f"max {max(per_page):.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdocs", type=Path, default=REALDOCS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", help="files whose name contains this")
    parser.add_argument("--out", type=Path, default=Path("eval-real-report.json"))
    args = parser.parse_args(argv)
    if not (args.realdocs / "labels.json").is_file():
        print(f"no labels.json in {args.realdocs}", file=sys.stderr)
        return 2
    report = evaluate(args.realdocs, args.workers, args.only)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
