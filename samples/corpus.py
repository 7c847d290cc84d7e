"""A corpus of generated evidence files with their ground truth, for tests and `make eval`.

Each document is written once per variant:
- `digital`: the rendered PDF with its Unicode text layer;
- `tcvn3`: the same PDF with a legacy TCVN3 text layer;
- `scan300`, `scan200`: image-only PDFs of the printed, signed and stamped paper at 300/200 dpi;
- `jpg`, `png`, `tiff`: the 300 dpi scan as image files (one file per page for JPEG/PNG).
Next to every file stands `<name>.truth.json`; `manifest.json` lists them all.

    python -m samples.corpus OUT_DIR --count N --seed S [--variants digital,scan300,...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from models.fields import DocType
from samples.content import make_spec
from samples.render import Layout, render_pdf_with_layout
from samples.scan import save_jpg, save_png, save_tiff, scan_pages, to_image_pdf
from samples.spec import DocumentSpec

VARIANTS = ("digital", "tcvn3", "scan300", "scan200", "jpg", "png", "tiff")
DEFAULT_VARIANTS = ("digital", "scan300", "scan200")


@dataclass(frozen=True)
class CorpusItem:
    path: Path          # the evidence file (for multi-file JPEG/PNG scans: the first page)
    spec: DocumentSpec
    variant: str
    layout: Layout | None = None


def truth_of(spec: DocumentSpec, variant: str, layout: Layout | None = None) -> dict:
    """The ground truth of one file as JSON-ready data."""
    signer_box = None
    if layout is not None:
        signer_box = {"page": layout.signer_page, "bbox": layout.signer_bbox.as_list(),
                      "signature_bbox": layout.signature_bbox.as_list()}
    return {
        "variant": variant,
        "doc_type": spec.doc_type.value,
        "number": spec.number,
        "issue_date": spec.issue_date.isoformat(),
        "zero_pad_date": spec.zero_pad_date,
        "place": spec.agency.place,
        "issuer": spec.agency.name,
        "superior": spec.agency.superior,
        "level": spec.agency.level,
        "unit_name": spec.agency.unit_name,
        "subject": spec.subject,
        "signer": {"name": spec.signer_name, "title": spec.signer_title,
                   "authority": spec.authority, "authority_line": spec.authority_line},
        "recipients": list(spec.recipients),
        "pages": spec.pages,
        "can_cu": list(spec.can_cu),
        "body_names": list(spec.body_names),
        "has_seal": variant not in ("digital", "tcvn3"),
        "text_source": "text" if variant in ("digital", "tcvn3") else "ocr",
        "signer_block": signer_box,
        "extra": {k: list(v) if isinstance(v, tuple) else v for k, v in spec.extra.items()},
    }


def _doc_types(rng: random.Random, count: int) -> list[DocType]:
    """Every type once per block of twelve, in shuffled order, so any 12 documents cover all."""
    types: list[DocType] = []
    while len(types) < count:
        block = list(DocType)
        rng.shuffle(block)
        types.extend(block)
    return types[:count]


def _write_document(out_dir: Path, stem: str, spec: DocumentSpec, seed: int,
                    variants: tuple[str, ...]) -> list[tuple[Path, str, Layout]]:
    """Every variant of one document; scans at one resolution are made once and reused."""
    pdf, layout = render_pdf_with_layout(spec)
    scans: dict[int, list] = {}

    def scanned(dpi: int) -> list:
        if dpi not in scans:
            scans[dpi] = scan_pages(pdf, layout, dpi=dpi, seed=seed)
        return scans[dpi]

    written = []
    for variant in variants:
        if variant == "digital":
            path = out_dir / f"{stem}.pdf"
            path.write_bytes(pdf)
        elif variant == "tcvn3":
            path = out_dir / f"{stem}-tcvn3.pdf"
            path.write_bytes(render_pdf_with_layout(spec, tcvn3=True)[0])
        elif variant in ("scan300", "scan200"):
            dpi = int(variant[4:])
            path = out_dir / f"{stem}-{variant}.pdf"
            path.write_bytes(to_image_pdf(scanned(dpi), dpi))
        else:
            save = {"jpg": save_jpg, "png": save_png, "tiff": save_tiff}[variant]
            path = save(scanned(300), out_dir / f"{stem}-scan.{variant}")[0]
        truth = truth_of(spec, variant, layout) | {"file": path.name, "seed": seed}
        path.with_name(path.name + ".truth.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
        written.append((path, variant, layout))
    return written


def _job(args: tuple) -> list[tuple[Path, str, Layout]]:
    return _write_document(*args)


def generate_corpus(out_dir: Path, *, count: int, seed: int,
                    variants: tuple[str, ...] = DEFAULT_VARIANTS,
                    workers: int | None = None) -> list[CorpusItem]:
    """`count` documents, each written in every one of `variants`, with their truth files.

    Documents are independent (each has its own seed), so `workers` processes produce exactly
    the files one process would; by default up to four.
    """
    variants = tuple(variants)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    jobs, specs = [], []
    for index, doc_type in enumerate(_doc_types(rng, count), start=1):
        doc_seed = rng.randrange(2**31)
        spec = make_spec(random.Random(doc_seed), doc_type)
        specs.append(spec)
        jobs.append((out_dir, f"{index:03d}-{doc_type.value}", spec, doc_seed, variants))
    workers = workers or min(4, os.cpu_count() or 1)
    needs_scans = any(v not in ("digital", "tcvn3") for v in variants)
    if workers > 1 and needs_scans and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_job, jobs))
    else:
        results = [_job(job) for job in jobs]
    items = [CorpusItem(path=path, spec=spec, variant=variant, layout=layout)
             for spec, written in zip(specs, results) for path, variant, layout in written]
    manifest = [json.loads(item.path.with_name(item.path.name + ".truth.json")
                           .read_text(encoding="utf-8")) for item in items]
    (out_dir / "manifest.json").write_text(
        json.dumps({"seed": seed, "count": count, "variants": list(variants), "files": manifest},
                   ensure_ascii=False, indent=2), encoding="utf-8")
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate sample evidence documents.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=24, help="documents (each in every variant)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"comma-separated, from: {','.join(VARIANTS)}")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: up to 4)")
    args = parser.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    try:
        items = generate_corpus(args.out_dir, count=args.count, seed=args.seed, variants=variants,
                                workers=args.workers)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(items)} files to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
