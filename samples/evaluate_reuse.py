"""Reused-evidence detection over a generated, labelled set (`make eval-reuse`).

Documents come from the generator, many of them of the same templates and agencies (plans,
reports, decisions … of a few districts, a commune and a department): distinct documents of one
kind and agency must not pair. For a share of them the set holds what reuse makes of a
document, each copy handed in so that the finder's rules count it as reuse:
- `resaved`: a signed plan re-saved by another unit under another name (PyMuPDF: a full rewrite
  with clean/garbage, an incremental save, or a metadata change with object streams);
- `rescan`: the same paper scanned at 300 dpi and again at 200 or 150 dpi (another pass
  through the scanner: other skew, noise and JPEG quality), by another unit;
- `new_date`: last year's document handed in again by the same unit a year later, the same
  text with a new issue date;
- `renamed`: the very same file (same bytes) under another name, by another unit or, the same
  unit, a year later.
Every file is inspected as the product does (`inspect_bytes`, scans read in part) and
fingerprinted; `find_reuse` runs on all submissions; precision and recall are counted over
pairs of submissions, by kind, with every miss and false pair and their similarities.

Then the speed at province scale: `find_reuse` on `--scale` submissions, the set's own plus
replicas of its fingerprints with controlled perturbation (different documents of one kind:
40 % of the MinHash values kept, 48–80 pHash bits flipped; a few near-copies that must pair).

    python -m samples.evaluate_reuse [--count N] [--seed S] [--scale 3000]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf
from rich.console import Console
from rich.table import Table

from kiemchung.extractors.fingerprint import Fingerprint
from kiemchung.models.fields import DocType
from kiemchung.verifier.reuse import (
    PHASH_BITS,
    PHASH_BOUND,
    THRESHOLD,
    Facts,
    ReuseIndex,
    ReusePair,
    Submission,
    hamming,
    jaccard,
    why_reuse,
)
from samples.content import AGENCIES
from samples.spec import DocumentSpec

KINDS = ("resaved", "rescan", "new_date", "renamed")
# Family kinds in the order they come, a cycle of twelve: two of each reuse kind, four
# documents handed in once (three born-digital, one scan). 19 files per cycle.
CYCLE = ("resaved", "rescan", "new_date", "renamed", "single_digital", "single_scan",
         "resaved", "rescan", "new_date", "renamed", "single_digital", "single_digital")
DEFAULT_COUNT = 132      # documents: 11 cycles, 209 files
TYPES = (DocType.KE_HOACH, DocType.BAO_CAO, DocType.QUYET_DINH, DocType.THONG_BAO,
         DocType.CONG_VAN)
AGENCY_NAMES = ("UBND huyện Phú Vang", "UBND huyện Phong Điền", "UBND xã Phú Mỹ",
                "Sở Thông tin và Truyền thông")
UNITS = ("UBND huyện Phú Vang", "UBND huyện Phong Điền", "UBND huyện Quảng Điền",
         "UBND thị xã Hương Thủy", "UBND huyện A Lưới", "UBND huyện Nam Đông",
         "UBND huyện Phú Lộc", "UBND xã Phú Mỹ", "UBND xã Phú Thượng", "UBND phường Thủy Dương",
         "UBND xã Phong Hiền", "Sở Y tế", "Sở Nội vụ", "Sở Giáo dục và Đào tạo")
CRITERIA = ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "4.1", "4.2")
YEAR = 2024
SCAN_KINDS = ("rescan", "single_scan")


# -- the labelled set ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FamilyPlan:
    """One document and what is made of it: `kind` one of CYCLE's."""

    index: int
    kind: str
    doc_type: DocType
    agency: str          # unit_name of the issuing agency
    seed: int
    year: int


@dataclass(frozen=True)
class File:
    """One file handed in: `family` the document it is, `role` original / copy / single."""

    name: str
    family: int
    kind: str
    role: str
    unit: str
    criterion: str
    year: int
    how: str = ""        # how the copy was made (save options, dpi …)
    doc_type: str = ""
    agency: str = ""     # the issuing agency (unit_name)


@dataclass(frozen=True)
class Read:
    """A file as the product reads it."""

    file: File
    sha256: str
    facts: Facts
    fingerprint: Fingerprint
    seconds: float       # inspection and fingerprint
    pages: int


def plan_set(count: int, seed: int) -> list[FamilyPlan]:
    """`count` distinct documents: kinds in CYCLE's order, types and agencies in turn so that
    each (type, agency) holds several distinct documents."""
    rng = random.Random(seed)
    plans = []
    for index in range(count):
        kind = CYCLE[index % len(CYCLE)]
        doc_type = TYPES[index % len(TYPES)]
        agency = AGENCY_NAMES[(index // len(TYPES)) % len(AGENCY_NAMES)]
        plans.append(FamilyPlan(index, kind, doc_type, agency, rng.randrange(2**31),
                                YEAR - 1 if kind == "new_date" else YEAR))
    return plans


def _agency(name: str):
    return next(a for a in AGENCIES if a.unit_name == name)


def _use(plan: FamilyPlan, copy: int) -> tuple[str, str]:
    """(unit, criterion) of the family's file `copy` (0: the original): the original's unit
    and criterion follow the family's index so that singles hardly ever share a use; a copy
    is handed in by another unit."""
    unit = UNITS[(plan.index + 5 * copy) % len(UNITS)]
    criterion = CRITERIA[(plan.index // len(UNITS) + copy) % len(CRITERIA)]
    return unit, criterion


def _slug(unit: str) -> str:
    import unicodedata
    plain = unicodedata.normalize("NFD", unit.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return "-".join(plain.lower().split())


@functools.lru_cache(maxsize=1)
def _pki():
    from samples.pki import DemoPKI
    return DemoPKI.create("kiemchung-reuse-eval")


def spec_of(plan: FamilyPlan) -> DocumentSpec:
    from samples.content import make_spec

    rng = random.Random(plan.seed)
    issued = dt.date(plan.year, 1, 2) + dt.timedelta(days=rng.randrange(0, 340))
    return make_spec(rng, plan.doc_type, agency=_agency(plan.agency), issue_date=issued)


def signed_pdf(spec: DocumentSpec) -> bytes:
    from samples.render import render_pdf
    from samples.sign import sign_as_printed
    return sign_as_printed(render_pdf(spec), spec, _pki())


def resave(data: bytes, how: str) -> bytes:
    """What another unit's tools make of a file: "rewrite" (garbage-collected, cleaned,
    deflated, new metadata), "incremental" (metadata changed, appended as an incremental
    update), "metadata" (metadata changed, written with object streams)."""
    meta = {"producer": "Foxit PDF Editor 12", "title": "Kế hoạch (bản lưu)",
            "author": "Văn phòng HĐND và UBND"}
    if how == "incremental":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "copy.pdf"
            path.write_bytes(data)
            with pymupdf.open(path) as doc:
                doc.set_metadata(meta)
                doc.saveIncr()
            return path.read_bytes()
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        doc.set_metadata(meta)
        if how == "rewrite":
            return doc.tobytes(garbage=4, deflate=True, clean=True)
        return doc.tobytes(garbage=1, use_objstms=1)


def scanned(spec: DocumentSpec, dpi: int, seed: int) -> bytes:
    from samples.render import render_pdf_with_layout
    from samples.scan import scan_pages, to_image_pdf

    pdf, layout = render_pdf_with_layout(spec)
    return to_image_pdf(scan_pages(pdf, layout, dpi=dpi, seed=seed), dpi)


def make_family(plan: FamilyPlan) -> list[tuple[File, bytes]]:
    """The files of one document: its original and, for a reuse kind, its copy."""
    return [(dataclasses.replace(file, doc_type=plan.doc_type.value, agency=plan.agency), data)
            for file, data in _files(plan)]


def _files(plan: FamilyPlan) -> list[tuple[File, bytes]]:
    rng = random.Random(plan.seed + 1)
    spec = spec_of(plan)
    stem = f"{plan.index:03d}-{plan.doc_type.value}"
    unit, criterion = _use(plan, 0)
    other_unit, other_criterion = _use(plan, 1)

    def original(role: str = "original", how: str = "") -> File:
        return File(f"{stem}.pdf", plan.index, plan.kind, role, unit, criterion, plan.year,
                    how)

    if plan.kind == "single_digital":
        return [(original("single", "signed"), signed_pdf(spec))]
    if plan.kind == "single_scan":
        return [(original("single", "scan 300 dpi"), scanned(spec, 300, plan.seed))]
    if plan.kind == "rescan":
        dpi = rng.choice([200, 150])
        return [(original(how="scan 300 dpi"), scanned(spec, 300, plan.seed)),
                (File(f"{stem}-scan{dpi}.pdf", plan.index, plan.kind, "copy", other_unit,
                      criterion, plan.year, f"re-scanned at {dpi} dpi"),
                 scanned(spec, dpi, plan.seed + 7))]
    data = signed_pdf(spec)
    if plan.kind == "resaved":
        how = rng.choice(["rewrite", "incremental", "metadata"])
        return [(original(how="signed"), data),
                (File(f"{stem}-{_slug(other_unit)}.pdf", plan.index, plan.kind, "copy",
                      other_unit, criterion, plan.year, f"re-saved ({how})"),
                 resave(data, how))]
    if plan.kind == "new_date":
        later = spec.issue_date.replace(year=spec.issue_date.year + 1) \
            if (spec.issue_date.month, spec.issue_date.day) != (2, 29) \
            else spec.issue_date + dt.timedelta(days=365)
        again = dataclasses.replace(spec, issue_date=later)
        return [(original(how=f"signed, issued {spec.issue_date}"), data),
                (File(f"{stem}-{later.year}.pdf", plan.index, plan.kind, "copy", unit,
                      criterion, later.year, f"the same text issued {later}"),
                 signed_pdf(again))]
    if plan.kind == "renamed":
        # Half by another unit the same year, half by the same unit a year later.
        if (plan.index // 6) % 2 == 0:
            copy = File(f"ban-sao-{stem}.pdf", plan.index, plan.kind, "copy", other_unit,
                        other_criterion, plan.year, "same bytes, another unit")
        else:
            copy = File(f"ban-sao-{stem}.pdf", plan.index, plan.kind, "copy", unit, criterion,
                        plan.year + 1, "same bytes, a year later")
        return [(original(how="signed"), data), (copy, data)]
    raise ValueError(f"unknown kind {plan.kind!r}")


def read_one(file: File, data: bytes) -> Read:
    """Inspect as the product does (scans read in part) and fingerprint."""
    from kiemchung.extractors.fingerprint import fingerprint
    from kiemchung.extractors.pipeline import inspect_bytes

    started = time.perf_counter()
    inspection = inspect_bytes(data, file.name)
    fp = fingerprint(data, inspection.text)
    return Read(file, hashlib.sha256(data).hexdigest(), Facts.of(inspection), fp,
                time.perf_counter() - started, len(inspection.text.pages))


def family_job(plan: FamilyPlan) -> list[Read]:
    return [read_one(file, data) for file, data in make_family(plan)]


def read_set(plans: Sequence[FamilyPlan], workers: int = 2,
             progress: Callable[[str], None] | None = None) -> list[Read]:
    """Every family made and read, `workers` processes; in the plans' order."""
    done: dict[int, list[Read]] = {}
    started = time.perf_counter()
    if workers <= 1:
        for plan in plans:
            done[plan.index] = family_job(plan)
            _progress(progress, len(done), len(plans), plan, done[plan.index], started)
    else:
        with ProcessPoolExecutor(workers) as pool:
            futures = {pool.submit(family_job, plan): plan for plan in plans}
            for future in as_completed(futures):
                plan = futures[future]
                done[plan.index] = future.result()
                _progress(progress, len(done), len(plans), plan, done[plan.index], started)
    return [read for plan in plans for read in done[plan.index]]


def _progress(progress, n: int, total: int, plan: FamilyPlan, reads: list[Read],
              started: float) -> None:
    if progress is not None:
        took = ", ".join(f"{r.seconds:.1f} s" for r in reads)
        progress(f"[{n}/{total}] {plan.index:03d} {plan.kind:<14} {plan.doc_type.value:<14} "
                 f"read in {took} ({time.perf_counter() - started:.0f} s elapsed)")


# -- scoring ------------------------------------------------------------------------------------

def submissions_of(reads: Iterable[Read]) -> list[Submission]:
    return [Submission(r.sha256, r.file.unit, r.file.criterion, r.file.year, r.facts,
                       r.fingerprint, name=r.file.name) for r in reads]


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def truth_pairs(reads: Sequence[Read]) -> dict[tuple[str, str], str]:
    """Pairs of files of one document handed in as reuse (by the finder's rules): name pair →
    kind."""
    families: dict[int, list[Read]] = defaultdict(list)
    for read in reads:
        families[read.file.family].append(read)
    out = {}
    for members in families.values():
        for a, b in itertools.combinations(members, 2):
            first, second = (Submission(r.sha256, r.file.unit, r.file.criterion, r.file.year,
                                        r.facts, r.fingerprint, name=r.file.name)
                             for r in (a, b))
            if why_reuse(first, second):
                out[_key(a.file.name, b.file.name)] = a.file.kind
    return out


def similarity(a: Read, b: Read) -> dict[str, Any]:
    """What the finder compares, computed for any two files."""
    x, y = a.fingerprint, b.fingerprint
    score = jaccard(x.minhash, y.minhash) if x.minhash and y.minhash else None
    distance = hamming(x.phash, y.phash) if x.phash and y.phash else None
    return {"jaccard": None if score is None else round(score, 3),
            "phash_distance": distance,
            "phash_compared": bool(x.scanned or y.scanned),
            "same_bytes": a.sha256 == b.sha256,
            "text_fingerprints": [x.minhash is not None, y.minhash is not None],
            "scanned": [x.scanned, y.scanned]}


def _ratio(hit: int, total: int) -> float | None:
    return None if total == 0 else hit / total


def score(reads: Sequence[Read], pairs: Sequence[ReusePair]) -> dict[str, Any]:
    """Precision over the pairs found, recall over the true pairs by kind, the misses and
    false pairs with their similarities, and the closest different documents."""
    by_name = {r.file.name: r for r in reads}
    truth = truth_pairs(reads)
    found = {_key(p.first.name, p.second.name): p for p in pairs}
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        expected = [k for k, v in truth.items() if v == kind]
        hit = sum(k in found for k in expected)
        kinds[kind] = {"pairs": len(expected), "found": hit,
                       "recall": _ratio(hit, len(expected))}
    different_bytes = [k for k in truth if by_name[k[0]].sha256 != by_name[k[1]].sha256]
    hit = sum(k in found for k in different_bytes)
    kinds["all (different bytes)"] = {"pairs": len(different_bytes), "found": hit,
                                      "recall": _ratio(hit, len(different_bytes))}
    hit_all = sum(k in found for k in truth)
    kinds["all"] = {"pairs": len(truth), "found": hit_all, "recall": _ratio(hit_all, len(truth))}
    true_found = sum(k in truth for k in found)

    def described(key: tuple[str, str], pair: ReusePair | None = None) -> dict[str, Any]:
        a, b = by_name[key[0]], by_name[key[1]]
        out = {"first": a.file.name, "second": b.file.name,
               "kinds": [f"{a.file.kind}/{a.file.role}", f"{b.file.kind}/{b.file.role}"],
               "how": [a.file.how, b.file.how],
               "copy_how": b.file.how if b.file.role == "copy" else a.file.how,
               "doc_types": sorted({a.file.doc_type, b.file.doc_type}),
               **similarity(a, b)}
        if pair is not None:
            out["summary"] = pair.summary
            out["why"] = list(pair.why)
        return out

    misses = [described(k) | {"kind": truth[k]} for k in sorted(truth) if k not in found]
    false_pairs = [described(k, p) for k, p in sorted(found.items()) if k not in truth]
    return {"files": len(reads), "documents": len({r.file.family for r in reads}),
            "pairs_found": len(found), "true_pairs_found": true_found,
            "precision": _ratio(true_found, len(found)), "kinds": kinds,
            "misses": misses, "false_pairs": false_pairs,
            "closest_different": closest_different(reads)}


def closest_different(reads: Sequence[Read], top: int = 5) -> dict[str, Any]:
    """The margins: the highest text similarity and the smallest image distance (where one
    is a scan) between files of different documents."""
    texts, images = [], []
    for a, b in itertools.combinations(reads, 2):
        if a.file.family == b.file.family:
            continue
        x, y = a.fingerprint, b.fingerprint
        if x.minhash and y.minhash:
            texts.append((jaccard(x.minhash, y.minhash), a.file.name, b.file.name))
        if x.phash and y.phash and (x.scanned or y.scanned):
            images.append((hamming(x.phash, y.phash), a.file.name, b.file.name))
    texts.sort(reverse=True)
    images.sort()
    return {"jaccard_highest": [{"jaccard": round(s, 3), "first": a, "second": b}
                                for s, a, b in texts[:top]],
            "phash_closest": [{"phash_distance": d, "first": a, "second": b}
                              for d, a, b in images[:top]],
            "text_threshold": THRESHOLD, "phash_bound": PHASH_BOUND}


def same_document_similarities(reads: Sequence[Read]) -> dict[str, dict[str, Any]]:
    """By kind: the range of Jaccard and pHash distance between the files of one document."""
    by_name = {r.file.name: r for r in reads}
    out: dict[str, dict[str, Any]] = {}
    for (a, b), kind in truth_pairs(reads).items():
        sim = similarity(by_name[a], by_name[b])
        entry = out.setdefault(kind, {"jaccard": [], "phash_distance": []})
        if sim["jaccard"] is not None:
            entry["jaccard"].append(sim["jaccard"])
        if sim["phash_distance"] is not None:
            entry["phash_distance"].append(sim["phash_distance"])
    return {kind: {name: [min(values), max(values)] if values else None
                   for name, values in entry.items()} for kind, entry in out.items()}


def composition(reads: Sequence[Read]) -> dict[str, Any]:
    families = {r.file.family: r.file.kind for r in reads}
    return {"files": len(reads), "documents": len(families),
            "documents_by_kind": dict(Counter(families.values())),
            "files_by_kind_and_role": dict(Counter(f"{r.file.kind}/{r.file.role}"
                                                   for r in reads)),
            "scanned_files": sum(r.fingerprint.scanned for r in reads),
            "with_text_fingerprint": sum(r.fingerprint.minhash is not None for r in reads),
            "copies_made": dict(Counter(r.file.how for r in reads if r.file.role == "copy")),
            "doc_types": dict(Counter(r.file.doc_type for r in reads)),
            "agencies": dict(Counter(r.file.agency for r in reads)),
            "pages": dict(Counter(r.pages for r in reads)),
            "inspection_seconds": {
                "born_digital": _mean([r.seconds for r in reads if not r.fingerprint.scanned]),
                "scanned": _mean([r.seconds for r in reads if r.fingerprint.scanned])}}


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


# -- province scale -----------------------------------------------------------------------------

MAX_HASH = (1 << 32) - 1


def perturbed(fp: Fingerprint, rng: random.Random, keep: float, flips: int) -> Fingerprint:
    """Another fingerprint made from `fp`: `keep` of its MinHash values kept (the rest drawn
    anew: Jaccard ≈ keep with `fp`), `flips` pHash bits flipped."""
    minhash = None
    if fp.minhash is not None:
        minhash = tuple(v if rng.random() < keep else rng.randrange(MAX_HASH)
                        for v in fp.minhash)
    phash = None
    if fp.phash is not None:
        mask = 0
        for bit in rng.sample(range(PHASH_BITS), flips):
            mask |= 1 << bit
        phash = format(int(fp.phash, 16) ^ mask, f"0{PHASH_BITS // 4}x")
    return Fingerprint(minhash=minhash, phash=phash, scanned=fp.scanned, words=fp.words)


def province_submissions(reads: Sequence[Read], total: int, seed: int,
                         near_share: float = 0.02
                         ) -> tuple[list[Submission], set[tuple[str, str]]]:
    """`total` submissions: the set's, then replicas of its fingerprints as other documents
    (40 % of MinHash values kept, 48–80 pHash bits flipped) handed in by one of 150 units for
    one of 20 criteria in 2023–2025; `near_share` of the replicas are near-copies of the one
    before, never of a near-copy (97 % of values kept, ≤ 8 bits flipped), by another unit:
    the pairs that must be found (returned as name pairs)."""
    rng = random.Random(seed)
    subs = submissions_of(reads)
    must: set[tuple[str, str]] = set()
    sources = [r for r in reads]
    previous: Submission | None = None
    n = 0
    while len(subs) < total:
        n += 1
        unit = f"đơn vị {rng.randrange(150):03d}"
        criterion = f"{rng.randint(1, 5)}.{rng.randint(1, 4)}"
        year = rng.choice([2023, 2024, 2025])
        if previous is not None and rng.random() < near_share:
            fp = perturbed(previous.fingerprint, rng, 0.97, rng.randint(0, 8))
            name = f"replica-{n:05d}-near"
            must.add(_key(name, previous.name))
            unit = f"đơn vị {(int(previous.unit.split()[-1]) + 1) % 150:03d}"
        else:
            fp = perturbed(rng.choice(sources).fingerprint, rng, 0.4, rng.randint(48, 80))
            name = f"replica-{n:05d}"
        sha = hashlib.sha256(name.encode()).hexdigest()
        sub = Submission(sha, unit, criterion, year, Facts(), fp, name=name)
        subs.append(sub)
        # No near-copy of a near-copy: that chain would pair its ends too.
        previous = None if name.endswith("-near") else sub
    return subs, must


def time_province(reads: Sequence[Read], total: int, seed: int) -> dict[str, Any]:
    subs, must = province_submissions(reads, total, seed)
    started = time.perf_counter()
    index = ReuseIndex()
    for sub in subs:
        index.add(sub)
    built = time.perf_counter() - started
    started = time.perf_counter()
    pairs = index.pairs()
    found = time.perf_counter() - started
    keys = {_key(p.first.name, p.second.name) for p in pairs}
    own = {r.file.name for r in reads}
    replica_pairs = [k for k in keys if not (k[0] in own and k[1] in own)]
    return {"submissions": len(subs), "from_the_set": len(reads),
            "replicas": len(subs) - len(reads),
            "method": "replicated fingerprints with controlled perturbation (no rendering)",
            "index_seconds": round(built, 3), "pairs_seconds": round(found, 3),
            "total_seconds": round(built + found, 3), "pairs": len(pairs),
            "near_copies_planted": len(must), "near_copies_found": len(must & keys),
            "other_pairs_with_replicas": len([k for k in replica_pairs if k not in must])}


# -- the run ------------------------------------------------------------------------------------

def evaluate(count: int, seed: int, scale: int, workers: int,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    plans = plan_set(count, seed)
    started = time.perf_counter()
    reads = read_set(plans, workers, progress)
    reading = time.perf_counter() - started
    from kiemchung.verifier.reuse import find_reuse
    started = time.perf_counter()
    pairs = find_reuse(submissions_of(reads))
    finding = time.perf_counter() - started
    report: dict[str, Any] = {
        "seed": seed, "count": count, "composition": composition(reads),
        "generate_and_read_seconds": round(reading, 1), "workers": workers,
        "find_reuse_seconds": round(finding, 3), **score(reads, pairs),
        "same_document_ranges": same_document_similarities(reads)}
    if scale:
        report["province"] = time_province(reads, scale, seed)
    return report


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    comp = report["composition"]
    console.print(f"[bold]reused evidence — {comp['files']} files of {comp['documents']} "
                  f"documents, seed {report['seed']}[/bold] ({comp['scanned_files']} scanned; "
                  f"read in {report['generate_and_read_seconds']} s on {report['workers']} "
                  f"processes)")
    console.print(f"documents by kind: {comp['documents_by_kind']}")
    table = Table(title="pairs by kind", title_justify="left")
    for column in ("kind", "true pairs", "found", "recall", "Jaccard range",
                   "pHash range (bits)"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    ranges = report["same_document_ranges"]
    for kind, row in report["kinds"].items():
        r = ranges.get(kind, {})
        table.add_row(kind, str(row["pairs"]), str(row["found"]), _pct(row["recall"]),
                      "–".join(map(str, r.get("jaccard") or [])) or "—",
                      "–".join(map(str, r.get("phash_distance") or [])) or "—")
    console.print(table)
    console.print(f"precision: {_pct(report['precision'])} ({report['true_pairs_found']} of "
                  f"{report['pairs_found']} pairs found are the same document); find_reuse "
                  f"{report['find_reuse_seconds']} s")
    for title, rows in (("misses", report["misses"]), ("false pairs", report["false_pairs"])):
        console.print(f"[bold]{title}[/bold]: {len(rows)}")
        for row in rows[:20]:
            console.print(f"  {row['first']} ~ {row['second']} ({', '.join(row['kinds'])}; "
                          f"{row['copy_how']}): Jaccard {row['jaccard']}, "
                          f"pHash {row['phash_distance']} (compared: {row['phash_compared']}), "
                          f"same bytes {row['same_bytes']}")
    close = report["closest_different"]
    if close["jaccard_highest"]:
        top = close["jaccard_highest"][0]
        console.print(f"closest different texts: Jaccard {top['jaccard']} ({top['first']} ~ "
                      f"{top['second']}; threshold {close['text_threshold']})")
    if close["phash_closest"]:
        top = close["phash_closest"][0]
        console.print(f"closest different first pages: {top['phash_distance']} bits "
                      f"({top['first']} ~ {top['second']}; bound {close['phash_bound']})")
    province = report.get("province")
    if province:
        console.print(
            f"[bold]province scale[/bold]: {province['submissions']} submissions "
            f"({province['from_the_set']} read + {province['replicas']} {province['method']}): "
            f"index {province['index_seconds']} s, pairs {province['pairs_seconds']} s, "
            f"{province['pairs']} pairs; near-copies found {province['near_copies_found']}/"
            f"{province['near_copies_planted']}, other pairs with replicas "
            f"{province['other_pairs_with_replicas']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT,
                        help=f"distinct documents (default {DEFAULT_COUNT}: 209 files)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--scale", type=int, default=3000,
                        help="submissions for the speed run (0: none)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=Path("reuse-eval-report.json"))
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    report = evaluate(args.count, args.seed, args.scale, args.workers,
                      progress=lambda line: console.print(f"[dim]{line}[/dim]"))
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str),
                        encoding="utf-8")
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
