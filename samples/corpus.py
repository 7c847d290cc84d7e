"""A corpus of generated evidence files with their ground truth, for tests and `make eval`.

Each document is written once per variant:
- `digital`: the rendered PDF with its Unicode text layer;
- `tcvn3`: the same PDF with a legacy TCVN3 text layer;
- `scan300`, `scan200`: image-only PDFs of the printed, signed and stamped paper at 300/200 dpi;
- `jpg`, `png`, `tiff`: the 300 dpi scan as image files (one file per page for JPEG/PNG).
Variants with the patterns of real files (issue 10), made from a spec with `real_patterns`
(other issuers, chained signer blocks, subjects quoting other numbers, kết luận without căn cứ):
- `eoffice`: born-digital, signed by the person and the agency; the number's digits and the day
  are blank in the page text and stamped by two more agency signatures in their widgets'
  appearances; header spans shuffled half the time, some words glued, an incoming-registry
  stamp as text half the time, the gazette centre's visible signature half the time;
- `shuffled`: born-digital, unsigned: header spans out of reading order, the number's digits and
  the day written last, glued words, an incoming stamp as text half the time;
- `tcvn3caps`: the TCVN3 layer with capitals in the caps-only ".VnTimeH" font, toned capitals
  of mixed-case words in that font inside a ".VnTime" word;
- `ocrlayer`: a 200 dpi scan carrying a wrong invisible OCR layer (no diacritics or mojibake);
- `scan150`: 150 dpi, JPEG quality 40–60, grey paper, show-through of the back, skew; half of
  them with the seal pasted as an opaque image over the first letters of the signer's name;
- `gazette`: 100–150 dpi like scan150, the seal pressed over the text, an incoming stamp and
  the gazette centre's `Ký bởi … Thời gian ký` stamp at the top right; half of them with the
  number's digits and the day written by hand into the printed blanks. Half the incoming stamps
  of scans are grey, as on a copy scanned in grey;
- `photo`: a phone capture: perspective, uneven light, a 545×792 pt page.
The truth says what a person reads on the page: `number` with the stamped digits, `issue_date`
from the date line with the stamped day, `subject` as printed (a Công văn's with "V/v "),
`superior`, and in `signer` the own `title` (the last title line above the signature), the
outermost `authority`, `authority_all` (the chain top-down), `rank` and `title_under_name`;
`patterns` records what the variant added (incoming stamp number and date, OCR layer kind,
dpi …), numbers and dates that are never the fields.
Next to every file stands `<name>.truth.json`; `manifest.json` lists them all.

    python -m samples.corpus OUT_DIR --count N --seed S [--variants digital,scan300,...]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kiemchung.models.fields import DocType
from samples.content import make_spec
from samples.render import Layout, render_pdf_with_layout
from samples.scan import save_jpg, save_png, save_tiff, scan_pages, to_image_pdf
from samples.spec import DocumentSpec

VARIANTS = ("digital", "tcvn3", "scan300", "scan200", "jpg", "png", "tiff",
            "eoffice", "shuffled", "tcvn3caps", "ocrlayer", "scan150", "gazette", "photo")
DEFAULT_VARIANTS = ("digital", "scan300", "scan200")
GREY_STAMP = (45, 45, 45)       # an incoming stamp's ink on a copy scanned in grey
# Variants drawn from a `real_patterns` spec; born-digital ones keep a text layer to read.
REAL_VARIANTS = ("eoffice", "shuffled", "tcvn3caps", "ocrlayer", "scan150", "gazette", "photo")
TEXT_VARIANTS = ("digital", "tcvn3", "eoffice", "shuffled", "tcvn3caps")


@dataclass(frozen=True)
class CorpusItem:
    path: Path          # the evidence file (for multi-file JPEG/PNG scans: the first page)
    spec: DocumentSpec
    variant: str
    layout: Layout | None = None


def truth_of(spec: DocumentSpec, variant: str, layout: Layout | None = None,
             patterns: dict | None = None) -> dict:
    """The ground truth of one file as JSON-ready data: what a person reads on the page.
    `patterns`: what the variant added (stamps, text layer …), recorded under "patterns"."""
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
        # As printed: a Công văn's starts with "V/v " (spec.subject holds it without).
        "subject": spec.subject_printed,
        "subject_printed": spec.subject_printed,
        "signer": {"name": spec.signer_name, "title": spec.signer_title,
                   "authority": spec.authority, "authority_line": spec.authority_line,
                   "authority_all": list(spec.authorities), "rank": spec.rank,
                   "title_under_name": spec.title_under_name,
                   "block": list(spec.signer_lines) if spec.signer_lines else None},
        "recipients": list(spec.recipients),
        "pages": spec.pages,
        "can_cu": list(spec.can_cu),
        "body_names": list(spec.body_names),
        # An e-office file shows the seal as the agency signature's appearance.
        "has_seal": variant not in TEXT_VARIANTS or variant == "eoffice",
        "text_source": "text" if variant in TEXT_VARIANTS else "ocr",
        "real_patterns": spec.real_patterns,
        "patterns": patterns or {},
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


def _incoming(rng: random.Random, spec: DocumentSpec):
    """An incoming-registry stamp of a receiving office, dated a few days after issue."""
    import datetime as dt

    from samples.render import IncomingStamp
    return IncomingStamp(
        number=rng.randint(100, 19999),
        date=spec.issue_date + dt.timedelta(days=rng.randint(1, 4)),
        agency=rng.choice(["UBND TỈNH LÂM ĐỒNG", "VP.UBND TỈNH THỪA THIÊN HUẾ", "SỞ NỘI VỤ",
                           None]),
        colour=rng.choice([(200, 30, 40), (30, 60, 170)]),
        where=rng.choice(["header", "title"]))


def _gazette_text(rng: random.Random, spec: DocumentSpec) -> str:
    import datetime as dt
    when = dt.datetime.combine(spec.issue_date, dt.time(8, 0)) + dt.timedelta(
        days=rng.randint(1, 3), minutes=rng.randint(0, 600), seconds=rng.randint(0, 59))
    return ("Ký bởi: TRUNG TÂM CÔNG BÁO VÀ TIN HỌC\nEmail: congbao@tinh.gov.vn\n"
            f"Cơ quan: Văn phòng UBND tỉnh\nThời gian ký: {when:%d.%m.%Y %H:%M:%S} +07:00")


def _stamp_truth(stamp) -> dict | None:
    if stamp is None:
        return None
    return {"number": stamp.number, "date": stamp.date.isoformat(), "agency": stamp.agency,
            "where": stamp.where}


@functools.lru_cache(maxsize=1)
def _pki():
    from samples.pki import DemoPKI
    return DemoPKI.create("kiemchung-corpus")


def _real_variant(out_dir: Path, stem: str, spec: DocumentSpec, seed: int, variant: str
                  ) -> tuple[Path, Layout, dict]:
    """One real-pattern variant of a document: (file, layout, the patterns it carries)."""
    from samples.render import RealLayout, page_runs
    from samples.scan import add_ocr_layer, image_pdf_with_quality, real_scan_pages

    rng = random.Random(f"{seed}:{variant}")   # str seeds are stable across runs
    path = out_dir / f"{stem}-{variant}.pdf"
    if variant in ("eoffice", "shuffled"):
        from samples.sign import sign_e_office

        incoming = _incoming(rng, spec) if rng.random() < 0.5 else None
        real = RealLayout(stamped=variant == "eoffice",
                          shuffled=variant == "shuffled" or rng.random() < 0.5,
                          glue_seed=rng.randrange(2**31), incoming=incoming)
        pdf, layout = render_pdf_with_layout(spec, real=real)
        patterns = {"stamped_number": real.stamped, "shuffled": real.shuffled, "glued": True,
                    "incoming_stamp": _stamp_truth(incoming)}
        if variant == "eoffice":
            gazette = rng.random() < 0.5
            pdf = sign_e_office(pdf, spec, layout, _pki(), gazette=gazette, seed=seed)
            patterns["gazette_signature"] = gazette
        path.write_bytes(pdf)
        return path, layout, patterns
    if variant == "tcvn3caps":
        pdf, layout = render_pdf_with_layout(spec, tcvn3=True, real=RealLayout(caps_font=True))
        path.write_bytes(pdf)
        return path, layout, {"caps_font": ".VnTimeH"}
    # Half the gazette scans have the number's digits and the day written by hand into the
    # printed blanks (a generator of its own: the other choices stay as they were).
    written = variant == "gazette" and random.Random(f"{seed}:written").random() < 0.5
    # A quarter of the scans lose "Nơi nhận:" (OCR drops the bold italic heading beside the
    # block's first line): the block is found by its own lines then.
    unlabelled = variant in ("scan150", "gazette", "photo") and \
        random.Random(f"{seed}:nolabel").random() < 0.25
    pdf, layout = render_pdf_with_layout(spec, real=RealLayout(stamped=written,
                                                                recipients_label=not unlabelled))
    if variant == "ocrlayer":
        images = scan_pages(pdf, layout, dpi=200, seed=seed)
        mode = rng.choice(["no_diacritics", "mojibake"])
        path.write_bytes(add_ocr_layer(to_image_pdf(images, 200), page_runs(spec), mode=mode,
                                       seed=seed))
        return path, layout, {"ocr_layer": mode, "dpi": 200}
    dpi = {"scan150": 150, "gazette": rng.choice([100, 120, 150]), "photo": 150}[variant]
    incoming = _incoming(rng, spec) if variant == "gazette" or (
        variant == "scan150" and rng.random() < 0.5) else None
    if incoming is not None and random.Random(f"{seed}:greystamp").random() < 0.5:
        # A copy scanned in grey: only its frame tells the stamp from the print.
        incoming = dataclasses.replace(incoming, colour=GREY_STAMP)
    gazette_text = _gazette_text(rng, spec) if variant == "gazette" else None
    # Half the scan150 ones carry the seal as a pasted image, over the start of the name.
    over_name = variant == "scan150" and random.Random(f"{seed}:sealname").random() < 0.5
    images = real_scan_pages(pdf, layout, kind=variant, dpi=dpi, seed=seed, incoming=incoming,
                             gazette_text=gazette_text, written=written,
                             seal_over_name=over_name)
    path.write_bytes(image_pdf_with_quality(images, dpi))
    return path, layout, {"dpi": dpi, "jpeg_quality": [i.info["quality"] for i in images],
                          "incoming_stamp": _stamp_truth(incoming),
                          "gazette_stamp": gazette_text, "written_digits": written,
                          "seal_over_name": over_name, "recipients_label": not unlabelled}


def _write_document(out_dir: Path, stem: str, spec: DocumentSpec, seed: int,
                    variants: tuple[str, ...], real_spec: DocumentSpec | None = None
                    ) -> list[tuple[Path, str, Layout]]:
    """Every variant of one document; scans at one resolution are made once and reused.
    `real_spec` (the same seed with `real_patterns`) is what the real-pattern variants show."""
    classic = any(v not in REAL_VARIANTS for v in variants)
    pdf, layout = render_pdf_with_layout(spec) if classic else (b"", None)
    scans: dict[int, list] = {}

    def scanned(dpi: int) -> list:
        if dpi not in scans:
            assert layout is not None   # scans are of the classic rendering, made above
            scans[dpi] = scan_pages(pdf, layout, dpi=dpi, seed=seed)
        return scans[dpi]

    written = []
    for variant in variants:
        patterns: dict = {}
        shown = spec
        if variant in REAL_VARIANTS:
            assert real_spec is not None   # given whenever a real-pattern variant is asked for
            shown = real_spec
            path, file_layout, patterns = _real_variant(out_dir, stem, real_spec, seed, variant)
        elif variant == "digital":
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
        if variant not in REAL_VARIANTS:
            assert layout is not None   # a classic variant: rendered above
            file_layout = layout
        truth = truth_of(shown, variant, file_layout, patterns) | {"file": path.name,
                                                                  "seed": seed}
        path.with_name(path.name + ".truth.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
        written.append((path, variant, file_layout))
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
    wants_real = any(v in REAL_VARIANTS for v in variants)
    wants_classic = any(v not in REAL_VARIANTS for v in variants)
    for index, doc_type in enumerate(_doc_types(rng, count), start=1):
        doc_seed = rng.randrange(2**31)
        real_spec = make_spec(random.Random(doc_seed), doc_type, real_patterns=True) \
            if wants_real else None
        spec = make_spec(random.Random(doc_seed), doc_type) if wants_classic else real_spec
        specs.append((spec, real_spec))
        jobs.append((out_dir, f"{index:03d}-{doc_type.value}", spec, doc_seed, variants,
                     real_spec))
    workers = workers or min(4, os.cpu_count() or 1)
    # Scans and signatures are slow enough to pay for the processes.
    slow = any(v not in TEXT_VARIANTS or v == "eoffice" for v in variants)
    if workers > 1 and slow and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_job, jobs))
    else:
        results = [_job(job) for job in jobs]
    items = []
    for (spec, real), written in zip(specs, results):
        for path, variant, layout in written:
            shown = real if variant in REAL_VARIANTS else spec
            assert shown is not None   # the spec the file was written from
            items.append(CorpusItem(path=path, spec=shown, variant=variant, layout=layout))
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
