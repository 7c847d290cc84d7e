"""`make bench`: how fast kiemchung is, measured next to what a user would run instead.

One run over a fixed generated corpus (cached in `.bench/corpus-<key>/`, the key being a hash of
the generator's source, so a changed generator makes a new corpus):
- the real batch path — `submit_batch` + `run_local` on a fresh SQLite store per run, 1 and 2
  worker processes — over born-digital signed documents, long (50+ page) born-digital documents
  and 300-dpi scans: documents/s, pages/s, median and p95 seconds per document (item start to
  finish), peak RSS of the largest worker process, field accuracy;
- a 300-page signed document alone on one worker: time and peak RSS;
- time per stage: each document's batch item processed in one process (`process_item`, as a
  worker does), the stages timing themselves (`kiemchung.models.timing`);
- the cache-hit path: `inspect_document` for bytes the store has already inspected;
- the same scans through `ocrmypdf -l vie` (its defaults, -j 1 and -j 2, and tuned: two files
  at once with one Tesseract thread each), PyMuPDF's text of its output and our field
  extraction, and the same signed files through `pyhanko sign validate` with the same trust:
  speed and results side by side, with the ratios and the targets.

Every measurement runs in a fresh process. Results go to `.bench/results.json`; the previous
results are kept as `.bench/previous.json` and the headline numbers are compared with them
(on a fresh checkout, with the committed `bench/last-run.json`, which each run rewrites).

    python -m bench.run [--dir .bench]     (or `make bench`)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

import samples
from samples.evaluate import expected, matches, observed

SEED = 2024
SIGNED_COUNT = 60
SCAN_COUNT = 6
LONG_PAGES = (50, 64, 80)
HUGE_PAGES = 300
# Every document is judged against one criterion that takes documents at every level.
RULESET, CRITERION, YEAR = "hue-2024", "2.2", 2024
CACHE_LOOKUPS = 3          # cache hits timed per signed document (once for the others)
# The stage pass reads a part of each corpus: the means need no more, and time is short.
STAGE_SAMPLE = {"signed": 12, "long": 2, "scan": 3}
PYHANKO_SAMPLE = 20        # signed files given to pyHanko's CLI: one interpreter start each
CORPUS_FORMAT = 1          # bump when the corpus below changes shape
SAMPLES_DIR = Path(samples.__file__).resolve().parent     # the generator, in samples/
# The last run's headline, committed: a new machine's first run is compared with it.
LAST_RUN = Path(__file__).resolve().parent / "last-run.json"
CORPUS_SOURCES = ("content.py", "render.py", "scan.py", "sign.py", "pki.py", "corpus.py",
                  "spec.py")

GROUPS = {"signed": "born-digital signed", "long": "born-digital 50+ pages",
          "scan": "scanned 300 dpi", "huge": f"born-digital {HUGE_PAGES} pages"}
STAGES = ("text", "ocr", "signatures", "fields", "marks", "verdict")
STAGE_TITLES = ("parse/text", "OCR", "signatures", "fields", "marks", "checks/verdict")

TARGET_SIGNED_DOCS_PER_S = 40.0
TARGET_SCAN_SPEEDUP = 3.0
TARGET_HUGE_RSS_MB = 500.0
TARGET_CACHE_HIT_MS = 5.0
TARGET_SIGNATURES_MS = 40.0          # signature stage of a 2–4-page document, two signatures
TARGET_TEXT_PAGES_PER_S = 100.0      # text-layer stage of long documents, one core

# Piped output (a log, a CI job) gets wide tables instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 150)


# -- the corpus ------------------------------------------------------------------------------

def generator_key(*parameters) -> str:
    """Changes whenever the generator's source or the given parameters change."""
    digest = hashlib.sha256(json.dumps(parameters).encode())
    for name in CORPUS_SOURCES:
        digest.update((SAMPLES_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


def corpus_key() -> str:
    return generator_key(CORPUS_FORMAT, SEED, SIGNED_COUNT, SCAN_COUNT, LONG_PAGES, HUGE_PAGES)


def generated_once(root: Path, prefix: str, key: str, manifest: str,
                   write: Callable[[Path], None]) -> Path:
    """`root/<prefix>-<key>/`, written by `write(folder)` once per key: older ones (and one
    left half-written) are removed, and it is written under another name until whole."""
    folder = root / f"{prefix}-{key}"
    if (folder / manifest).exists():
        return folder
    for old in root.glob(f"{prefix}-*"):
        shutil.rmtree(old)
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True)
    write(partial)
    partial.rename(folder)
    return folder


def build_corpus(root: Path) -> Path:
    """The corpus folder (trust/, signed/, scan/, long/, huge/ and bench-manifest.json),
    generated once per corpus key."""
    return generated_once(root, "corpus", corpus_key(), "bench-manifest.json", _write_corpus)


def _write_corpus(partial: Path) -> None:
    from samples.corpus import generate_corpus
    from samples.pki import DemoPKI
    from samples.render import render_pdf
    from samples.sign import sign_as_printed

    # ECDSA signatures are randomised: the trust files must be the ones of this corpus.
    pki = DemoPKI.create("kiemchung-bench")
    pki.write_trust_dir(partial / "trust")
    entries = []
    for item in generate_corpus(partial / "signed", count=SIGNED_COUNT, seed=SEED,
                                variants=("digital",)):
        item.path.write_bytes(sign_as_printed(item.path.read_bytes(), item.spec, pki))
        entries.append(_entry(partial, item.path, "signed", item.spec))
    for item in generate_corpus(partial / "scan", count=SCAN_COUNT, seed=SEED + 1,
                                variants=("scan300",)):
        entries.append(_entry(partial, item.path, "scan", item.spec))
    long_documents = [("long", pages, SEED + 10 + i) for i, pages in enumerate(LONG_PAGES)]
    for group, pages, seed in long_documents + [("huge", HUGE_PAGES, SEED + 20)]:
        spec = long_spec(seed, pages)
        path = partial / group / f"{seed}-{spec.doc_type.value}-{spec.pages}p.pdf"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(sign_as_printed(render_pdf(spec), spec, pki))
        entries.append(_entry(partial, path, group, spec))
    (partial / "bench-manifest.json").write_text(
        json.dumps({"key": corpus_key(), "documents": entries}, ensure_ascii=False, indent=1),
        encoding="utf-8")


def long_spec(seed: int, pages: int):
    """A report, plan or programme whose body is repeated until it fills `pages` pages."""
    from kiemchung.models.fields import DocType
    from samples.content import make_spec
    from samples.render import with_pages

    rng = random.Random(seed)
    return with_pages(make_spec(rng, rng.choice([DocType.BAO_CAO, DocType.KE_HOACH,
                                                 DocType.CHUONG_TRINH])), pages)


def _entry(root: Path, path: Path, group: str, spec) -> dict:
    import pymupdf

    with pymupdf.open(path) as doc:
        pages = doc.page_count
    return {"file": path.relative_to(root).as_posix(), "group": group, "pages": pages,
            "unit": spec.agency.unit_name, "level": spec.agency.level,
            "expected": expected(spec)}


def load_corpus(folder: Path) -> list[dict]:
    return json.loads((folder / "bench-manifest.json").read_text(encoding="utf-8"))["documents"]


# -- measurements, each run in a fresh process ----------------------------------------------

def in_fresh_process(function, *args):
    """Run `function(*args)` in a new spawned interpreter: nothing loaded or cached before,
    and RUSAGE_CHILDREN there counts only the processes it started."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def bench_settings(corpus: Path, data_dir: Path, **overrides):
    from kiemchung.verifier.settings import Settings

    # Explicit, so that a KIEMCHUNG_DATABASE_URL or kiemchung.env of the user is not touched.
    chosen = {"database_url": None, "broker_url": None, "webhook_secret": None, "ocr_dpi": 300,
              **overrides}
    return Settings(data_dir=data_dir, trust_roots=[corpus / "trust"], **chosen)


def submit_entries(store, corpus: Path, entries: list[dict]) -> str:
    """A batch with an item per entry, its document stored; the batch id."""
    from kiemchung.api.jobs.batches import submit_batch
    from kiemchung.api.store import NewBatchItem

    items = [NewBatchItem(e["unit"], e["level"], CRITERION, (store.put_document(
        (corpus / e["file"]).read_bytes(), e["file"], unit=e["unit"]).sha256,))
        for e in entries]
    return submit_batch(store, created_by=None, ruleset_id=RULESET, year=YEAR, items=items)


def batch_run(corpus: Path, entries: list[dict], workers: int, data_dir: Path,
              cache_lookups: int = 1) -> dict:
    """One batch (an item per document) through `run_local` on a fresh store; then every
    document again through the cache."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    from kiemchung.api.jobs.pool import run_local
    from kiemchung.api.service import inspect_document, load_trust_roots
    from kiemchung.api.store import open_store
    from kiemchung.models.errors import KiemchungError

    settings = bench_settings(corpus, data_dir)
    with open_store(settings) as store:
        batch_id = submit_entries(store, corpus, entries)
    started = time.perf_counter()
    run_local(settings, batch_id, workers=workers)
    wall = time.perf_counter() - started
    # ru_maxrss: the largest of the finished child processes (workers and their Tesseract).
    peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    documents, cache_ms = [], []
    with open_store(settings) as store:
        trust = load_trust_roots(settings)
        for row, entry in zip(store.batch_items(batch_id), entries, strict=True):
            sha = row.documents[0]
            seconds = ((row.finished_at - row.started_at).total_seconds()
                       if row.finished_at and row.started_at else None)
            found = {"file": entry["file"], "state": str(row.state), "error": row.error,
                     "seconds": seconds, "observed": None, "signatures": []}
            # A finished item has its documents' inspections stored: these reads are hits.
            if row.state == "done":
                try:
                    for _ in range(cache_lookups):
                        start = time.perf_counter()
                        inspection = inspect_document(store, sha, trust, name=entry["file"],
                                                      ocr_dpi=settings.ocr_dpi)
                        cache_ms.append((time.perf_counter() - start) * 1000)
                    found["observed"] = observed(inspection.to_json())
                    found["signatures"] = [str(s.status) for s in inspection.signatures]
                except KiemchungError as error:
                    found["error"] = error.message
            documents.append(found)
    return {"workers": workers, "wall_seconds": wall, "peak_worker_rss_mb": peak_rss_mb,
            "documents": documents, "cache_hit_ms": cache_ms}


def stage_pass(corpus: Path, entries: list[dict], data_dir: Path) -> dict:
    """Seconds per stage for each document: its batch item processed in this one process
    (`process_item`, as a worker does, on a fresh store), the stages timing themselves
    (`kiemchung.models.timing`: exclusive seconds, a stage inside another counted once).
    "other" is the rest: the store, records, the glue, and any stage not in STAGES. The
    first document is processed once before, on another store, so that loading models and
    libraries is not counted."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    from kiemchung.api import service
    from kiemchung.api.jobs.queue import process_item
    from kiemchung.api.runtime import fewer_collections
    from kiemchung.api.store import open_store
    from kiemchung.models.errors import KiemchungError
    from kiemchung.models.timing import record_stages
    from kiemchung.verifier.ruleset import load_ruleset

    ruleset = load_ruleset(RULESET)
    recorded: set[str] = set()
    fewer_collections()          # as a worker process does

    def process(batch: list[dict], store_dir: Path) -> list[dict]:
        settings = bench_settings(corpus, store_dir)
        trust = service.load_trust_roots(settings)
        rows = []
        with open_store(settings) as store:
            batch_id = submit_entries(store, corpus, batch)
            for item, entry in zip(store.batch_items(batch_id), batch, strict=True):
                with record_stages() as seconds:
                    start = time.perf_counter()
                    try:
                        process_item(store, item, ruleset, trust, ocr_dpi=settings.ocr_dpi)
                    except KiemchungError as error:
                        rows.append({"file": entry["file"], "group": entry["group"],
                                     "error": error.message})
                        continue
                    total = time.perf_counter() - start
                recorded.update(seconds)
                stages = {name: seconds.get(name, 0.0) for name in STAGES}
                rows.append({"file": entry["file"], "group": entry["group"],
                             "pages": entry["pages"], **stages,
                             "other": max(0.0, total - sum(stages.values())),
                             "total": total})
        return rows

    process(entries[:1], data_dir / "warm-up")
    documents = process(entries, data_dir / "stages")
    # The stage names seen, in STAGES' order: one missing from STAGES is time under "other".
    return {"recorded": [n for n in STAGES if n in recorded] + sorted(recorded - set(STAGES)),
            "documents": documents}


@dataclasses.dataclass(frozen=True)
class OcrmypdfRoute:
    """One way to run ocrmypdf over the scans. `omp_thread_limit` None leaves Tesseract's
    threads to ocrmypdf: jobs // pages of the file, 1 to 3."""

    name: str
    jobs: int
    files_at_once: int = 1
    omp_thread_limit: str | None = None


OCRMYPDF_ROUTES = (
    OcrmypdfRoute("ocrmypdf -j 1, file by file", jobs=1),
    OcrmypdfRoute("ocrmypdf -j 2, file by file", jobs=2),
    OcrmypdfRoute("ocrmypdf -j 1, 2 files at once, OMP_THREAD_LIMIT=1", jobs=1,
                  files_at_once=2, omp_thread_limit="1"),
)


def ocrmypdf_route(corpus: Path, entries: list[dict], route: OcrmypdfRoute,
                   out_dir: Path) -> dict:
    """What a user without kiemchung does with scans: `ocrmypdf -l vie` (otherwise its own
    defaults), then the text layer of its output read with PyMuPDF and our field extraction
    on it. Fields are read after all the OCR, one file after another."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    if route.omp_thread_limit:
        env["OMP_THREAD_LIMIT"] = route.omp_thread_limit
    command = [_tool("ocrmypdf"), "-l", "vie", "-j", str(route.jobs)]

    def ocr(entry: dict) -> dict:
        source = corpus / entry["file"]
        target = out_dir / f"{source.stem}-ocr.pdf"
        start = time.perf_counter()
        done = subprocess.run([*command, str(source), str(target)], env=env,
                              capture_output=True, text=True)
        found = {"file": entry["file"], "output": target, "observed": None,
                 "ocr_seconds": time.perf_counter() - start}
        # Exit code 10: the PDF/A conversion failed, the OCR'd PDF is written all the same.
        if done.returncode not in (0, 10) or not target.exists():
            found["error"] = (done.stderr.strip().splitlines()
                              or [f"exit code {done.returncode}"])[-1]
        return found

    started = time.perf_counter()
    with ThreadPoolExecutor(route.files_at_once) as pool:
        documents = list(pool.map(ocr, entries))
    for document in documents:
        start = time.perf_counter()
        if "error" not in document:
            document["observed"] = observed(_fields_of_text_layer(document["output"]))
        document["fields_seconds"] = time.perf_counter() - start
        document["seconds"] = document["ocr_seconds"] + document["fields_seconds"]
        document["output"] = str(document["output"])
    return {"route": route.name, "wall_seconds": time.perf_counter() - started,
            "documents": documents}


def _fields_of_text_layer(path: Path) -> dict:
    """Our field extraction over the PDF's text layer as PyMuPDF reads it (marked as OCR
    text, so the field extraction allows for OCR slips as it does for its own OCR)."""
    import pymupdf

    from kiemchung.extractors.fields import extract_fields
    from kiemchung.extractors.pdf_text import read_text_layer
    from kiemchung.models.document import DocumentText, TextSource
    from kiemchung.models.inspection import Inspection

    data = path.read_bytes()
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        pages = tuple(read_text_layer(page, index + 1, source=TextSource.OCR)
                      for index, page in enumerate(doc))
    text = DocumentText(path=path.name, sha256=hashlib.sha256(data).hexdigest(), pages=pages)
    return Inspection(file=path.name, text=text, fields=extract_fields(text)).to_json()


def pyhanko_route(corpus: Path, entries: list[dict], parallel: int) -> dict:
    """`pyhanko sign validate` on each file (its diff analysis on, revocation not checked as
    ours does not fetch it), `parallel` files at a time, with our trust files as its only
    trust."""
    trust = corpus / "trust"
    command = [_tool("pyhanko"), "sign", "validate", "--no-revocation-check",
               "--trust", str(trust / "root.pem"), "--trust-replace",
               "--other-certs", str(trust / "intermediate.pem")]

    def validate(entry: dict) -> dict:
        start = time.perf_counter()
        done = subprocess.run([*command, str(corpus / entry["file"])], capture_output=True,
                              text=True)
        # One line per signature: "<field>:<sha256 of the signer>:INTACT:TRUSTED,…".
        lines = [line for line in done.stdout.splitlines() if line.count(":") >= 3]
        return {"file": entry["file"], "seconds": time.perf_counter() - start,
                "exit_code": done.returncode, "signatures": len(lines),
                "all_valid": done.returncode == 0 and bool(lines)
                and all(":INTACT:TRUSTED" in line for line in lines)}

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        documents = list(pool.map(validate, entries))
    return {"parallel": parallel, "wall_seconds": time.perf_counter() - started,
            "documents": documents}


def pyhanko_startup_seconds() -> float:
    """What starting the CLI costs before any file is read (`pyhanko --version`)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([_tool("pyhanko"), "--version"], capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _tool(name: str) -> str:
    """The command next to this interpreter (the venv's), else on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def tool_missing(name: str) -> bool:
    return not (Path(sys.executable).parent / name).exists() and shutil.which(name) is None


# -- summaries -------------------------------------------------------------------------------

def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def field_accuracy(entries: list[dict], documents: list[dict]) -> dict:
    """Share of (document, field) pairs read right, exactly and "near" — the rule of
    `make eval`: text fields within a rapidfuzz ratio of 95 on NFC text. A document that was
    not read counts as wrong on every field."""
    exact = near = total = 0
    for entry, document in zip(entries, documents, strict=True):
        got = document.get("observed") or {}
        for name, want in entry["expected"].items():
            is_exact, is_near = matches(name, want, got.get(name))
            total += 1
            exact += is_exact
            near += is_near
    return {"exact": exact / total if total else None, "near": near / total if total else None}


def summarise_batch(run: dict, entries: list[dict]) -> dict:
    pages = sum(e["pages"] for e in entries)
    seconds = [d["seconds"] for d in run["documents"] if d["seconds"] is not None]
    failed = [f"{d['file']}: {d['error']}" for d in run["documents"] if d["state"] != "done"]
    return {"workers": run["workers"], "documents": len(entries), "pages": pages,
            "wall_seconds": run["wall_seconds"],
            "docs_per_s": len(entries) / run["wall_seconds"],
            "pages_per_s": pages / run["wall_seconds"],
            "median_s": median(seconds), "p95_s": p95(seconds),
            "peak_worker_rss_mb": run["peak_worker_rss_mb"],
            "fields": field_accuracy(entries, run["documents"]),
            "cache_hit_median_ms": median(run["cache_hit_ms"]),
            "cache_hit_p95_ms": p95(run["cache_hit_ms"]),
            "failed": failed, "documents_detail": run["documents"]}


def summarise_route(run: dict, entries: list[dict]) -> dict:
    pages = sum(e["pages"] for e in entries)
    seconds = [d["seconds"] for d in run["documents"]]
    return {**{k: v for k, v in run.items() if k != "documents"},
            "documents": len(entries), "pages": pages,
            "docs_per_s": len(entries) / run["wall_seconds"],
            "pages_per_s": pages / run["wall_seconds"],
            "median_s": median(seconds), "p95_s": p95(seconds),
            "failed": [f"{d['file']}: {d['error']}" for d in run["documents"] if "error" in d],
            "documents_detail": run["documents"]}


def summarise_stages(measured: dict) -> dict:
    rows = measured["documents"]
    groups = {}
    for group in GROUPS:
        mine = [r for r in rows if r["group"] == group and "error" not in r]
        failed = [f"{r['file']}: {r['error']}" for r in rows
                  if r["group"] == group and "error" in r]
        if mine:
            means = {s: statistics.mean(r[s] for r in mine) for s in (*STAGES, "other")}
            groups[group] = {"documents": len(mine), "mean_s": means,
                             "mean_pages": statistics.mean(r["pages"] for r in mine),
                             "total_mean_s": statistics.mean(r["total"] for r in mine),
                             "failed": failed}
    return {"recorded": measured["recorded"], "groups": groups}


# -- the run ---------------------------------------------------------------------------------

@contextlib.contextmanager
def phase(results: dict, name: str):
    """Say what runs now, and keep how long it took (results["phases"])."""
    console.print(f"[dim]{name}…[/dim]")
    start = time.perf_counter()
    yield
    results.setdefault("phases", {})[name] = time.perf_counter() - start


def run(root: Path) -> dict:
    began = time.perf_counter()
    results: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    load_before = os.getloadavg()
    root.mkdir(parents=True, exist_ok=True)
    with phase(results, "corpus"):
        corpus = build_corpus(root)
    entries = load_corpus(corpus)
    by_group = {g: [e for e in entries if e["group"] == g] for g in GROUPS}
    results["corpus"] = {"folder": str(corpus), "groups": {
        g: {"documents": len(es), "pages": sum(e["pages"] for e in es)}
        for g, es in by_group.items()}}

    results["batch"] = {group: {} for group in GROUPS}
    results["ocrmypdf"] = []
    with tempfile.TemporaryDirectory(dir=root, prefix="work-") as work_dir:
        work = Path(work_dir)
        for group in GROUPS:
            for workers in ((1,) if group == "huge" else (1, 2)):
                with phase(results, f"batch path: {GROUPS[group]}, {workers} worker(s)"):
                    raw = in_fresh_process(batch_run, corpus, by_group[group], workers,
                                           work / f"store-{group}-{workers}",
                                           CACHE_LOOKUPS if group == "signed" else 1)
                results["batch"][group][str(workers)] = summarise_batch(raw, by_group[group])

        with phase(results, "stages, one process"):
            staged = [e for g, n in STAGE_SAMPLE.items() for e in by_group[g][:n]]
            results["stages"] = summarise_stages(
                in_fresh_process(stage_pass, corpus, staged, work / "stages"))

        if tool_missing("ocrmypdf"):
            console.print("[yellow]ocrmypdf is not installed (pip install -e '.[bench]'): "
                          "scans are not compared[/yellow]")
        else:
            for index, route in enumerate(OCRMYPDF_ROUTES):
                with phase(results, f"{route.name} + PyMuPDF text + fields"):
                    out_dir = work / f"ocrmypdf-{index}"
                    out_dir.mkdir()
                    raw = in_fresh_process(ocrmypdf_route, corpus, by_group["scan"], route,
                                           out_dir)
                summary = summarise_route(raw, by_group["scan"])
                summary["cores"] = route.jobs * route.files_at_once
                summary["fields"] = field_accuracy(by_group["scan"], raw["documents"])
                results["ocrmypdf"].append(summary)

    results["pyhanko_cli"] = {}
    if tool_missing("pyhanko"):
        console.print("[yellow]pyhanko-cli is not installed (pip install -e '.[bench]'): "
                      "signatures are not compared[/yellow]")
    else:
        for parallel in (1, 2):
            sample = by_group["signed"][:PYHANKO_SAMPLE]
            with phase(results, f"pyhanko sign validate, {parallel} at a time"):
                raw = pyhanko_route(corpus, sample, parallel)
            results["pyhanko_cli"][str(parallel)] = summarise_route(raw, sample)
        results["pyhanko_cli"]["startup_s"] = pyhanko_startup_seconds()

    results["failed_documents"] = failures(results)
    results["targets"] = targets(results)
    results["headline"] = headline(results)
    results["machine"] = machine(load_before)
    results["seconds"] = time.perf_counter() - began
    return results


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours and theirs else None


def scan_comparison(results: dict) -> list[dict]:
    """Ours with N workers against the fastest ocrmypdf route using N cores, N = 1, 2."""
    rows = []
    for n in ("1", "2"):
        ours = results["batch"]["scan"][n]
        routes = [r for r in results["ocrmypdf"] if r["cores"] == int(n)]
        if routes:
            theirs = max(routes, key=lambda r: r["docs_per_s"])
            rows.append({"n": n, "against": theirs["route"],
                         "speedup": _ratio(ours["docs_per_s"], theirs["docs_per_s"]),
                         "ours_near": ours["fields"]["near"],
                         "theirs_near": theirs["fields"]["near"]})
    return rows


def signature_agreement(results: dict) -> tuple[int, int]:
    """Files on which our statuses (every signature valid or not) agree with pyHanko's CLI."""
    cli = results["pyhanko_cli"].get("1")
    if not cli:
        return 0, 0
    theirs = cli["documents_detail"]
    ours = results["batch"]["signed"]["1"]["documents_detail"][:len(theirs)]
    agree = sum(len(o["signatures"]) == t["signatures"]
                and (bool(o["signatures"]) and all(s == "valid" for s in o["signatures"]))
                == t["all_valid"]
                for o, t in zip(ours, theirs, strict=True))
    return agree, len(ours)


def failures(results: dict) -> int:
    """Documents that failed anywhere in the run: a failed document is fast, so a run with
    failures measures less than the whole work and its speeds are not comparable."""
    summaries = [s for runs in results["batch"].values() for s in runs.values()]
    summaries += results["ocrmypdf"] + list(results["stages"]["groups"].values())
    return sum(len(s["failed"]) for s in summaries)


def targets(results: dict) -> list[dict]:
    signed_run = results["batch"]["signed"]["2"]
    signed = signed_run["docs_per_s"]
    huge = results["batch"]["huge"]["1"]
    cache = signed_run["cache_hit_median_ms"]
    scans = scan_comparison(results)
    speedups = [r["speedup"] for r in scans if r["speedup"] is not None]
    accuracy_kept = all(r["ours_near"] >= r["theirs_near"] for r in scans)
    scans_complete = not any(s["failed"] for s in [*results["batch"]["scan"].values(),
                                                   *results["ocrmypdf"]])
    scan_met = None
    if len(speedups) == 2:
        scan_met = (min(speedups) >= TARGET_SCAN_SPEEDUP and accuracy_kept
                    and scans_complete)
    huge_done = not huge["failed"]
    signatures_ms, text_pages_per_s = stage_rates(results)
    return [
        {"target": f"signature stage ≤ {TARGET_SIGNATURES_MS:g} ms a signed document",
         "measured": f"{signatures_ms:.0f} ms (mean)" if signatures_ms else "not measured",
         "met": signatures_ms is not None and signatures_ms <= TARGET_SIGNATURES_MS},
        {"target": f"text layer of long documents ≥ {TARGET_TEXT_PAGES_PER_S:g} pages/s "
                   "on one core",
         "measured": f"{text_pages_per_s:.0f} pages/s" if text_pages_per_s else "not measured",
         "met": text_pages_per_s is not None
         and text_pages_per_s >= TARGET_TEXT_PAGES_PER_S},
        {"target": f"born-digital signed ≥ {TARGET_SIGNED_DOCS_PER_S:g} docs/s with 2 workers",
         "measured": f"{signed:.2f} docs/s" + (f" ({len(signed_run['failed'])} failed)"
                                               if signed_run["failed"] else ""),
         "met": signed >= TARGET_SIGNED_DOCS_PER_S and not signed_run["failed"]},
        {"target": f"scanned ≥ {TARGET_SCAN_SPEEDUP:g}× faster than the ocrmypdf route at "
                   "equal field accuracy",
         "measured": "; ".join(f"{r['speedup']:.2f}× on {r['n']} core(s), fields "
                               f"{r['ours_near']:.1%} vs {r['theirs_near']:.1%}"
                               for r in scans) or "not measured",
         "met": scan_met},
        {"target": f"{HUGE_PAGES}-page PDF < {TARGET_HUGE_RSS_MB:g} MB peak RSS",
         "measured": f"{huge['peak_worker_rss_mb']:.0f} MB"
                     + ("" if huge_done else " (the document failed)"),
         "met": huge_done and huge["peak_worker_rss_mb"] < TARGET_HUGE_RSS_MB},
        {"target": f"cache hit < {TARGET_CACHE_HIT_MS:g} ms",
         "measured": f"{cache:.2f} ms (median)" if cache is not None else "no cached document",
         "met": cache is not None and cache < TARGET_CACHE_HIT_MS},
    ]


def stage_rates(results: dict) -> tuple[float | None, float | None]:
    """The signature stage's mean milliseconds for a born-digital signed document, and the
    text stage's pages per second on the long documents (stage pass, one process)."""
    groups = results.get("stages", {}).get("groups", {})
    signed, long = groups.get("signed"), groups.get("long")
    signatures_ms = signed["mean_s"]["signatures"] * 1000 if signed else None
    text_pages_per_s = None
    if long and long["mean_s"]["text"]:
        text_pages_per_s = long["mean_pages"] / long["mean_s"]["text"]
    return signatures_ms, text_pages_per_s


# name → (value, higher is better)
def headline(results: dict) -> dict:
    batch = results["batch"]
    numbers = {
        "signed docs/s, 1 worker": (batch["signed"]["1"]["docs_per_s"], True),
        "signed docs/s, 2 workers": (batch["signed"]["2"]["docs_per_s"], True),
        "signed median s/doc, 2 workers": (batch["signed"]["2"]["median_s"], False),
        "long pages/s, 2 workers": (batch["long"]["2"]["pages_per_s"], True),
        "scanned docs/s, 1 worker": (batch["scan"]["1"]["docs_per_s"], True),
        "scanned docs/s, 2 workers": (batch["scan"]["2"]["docs_per_s"], True),
        "scanned fields near": (batch["scan"]["2"]["fields"]["near"], True),
        f"{HUGE_PAGES}-page seconds": (batch["huge"]["1"]["wall_seconds"], False),
        f"{HUGE_PAGES}-page peak RSS MB": (batch["huge"]["1"]["peak_worker_rss_mb"], False),
        "peak RSS per worker MB (signed, 2 workers)":
            (batch["signed"]["2"]["peak_worker_rss_mb"], False),
        "cache hit median ms": (batch["signed"]["2"]["cache_hit_median_ms"], False),
    }
    signatures_ms, text_pages_per_s = stage_rates(results)
    numbers["signature stage ms per signed document"] = (signatures_ms, False)
    numbers["text stage pages/s, long documents"] = (text_pages_per_s, True)
    for row in scan_comparison(results):
        numbers[f"scanned speed-up vs ocrmypdf, {row['n']} core(s)"] = (row["speedup"], True)
    cli = results["pyhanko_cli"].get("2")
    if cli:
        numbers["signed speed-up vs pyhanko CLI, 2 vs 2"] = (
            _ratio(batch["signed"]["2"]["docs_per_s"], cli["docs_per_s"]), True)
    return {name: {"value": value, "higher_is_better": better}
            for name, (value, better) in numbers.items()}


def machine(load_before: tuple[float, float, float]) -> dict:
    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    import pytesseract

    from kiemchung.models.records import EXTRACTOR_VERSION

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or None
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "git_commit": commit,
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "extractor_version": EXTRACTOR_VERSION,
            "tesseract": str(pytesseract.get_tesseract_version()),
            "omp_thread_limit_ours": os.environ.get("OMP_THREAD_LIMIT", "1 (set by workers)"),
            "versions": {p: version(p) for p in ("pymupdf", "pyHanko", "pyhanko-cli",
                                                  "ocrmypdf", "spacy", "kiemchung")}}


# -- printing --------------------------------------------------------------------------------

def _num(value: float | None, fmt: str = ".2f", unit: str = "") -> str:
    return "—" if value is None else f"{value:{fmt}}{unit}"


def _fields(fields: dict) -> str:
    return f"{_num(fields['exact'], '.1%')} / {_num(fields['near'], '.1%')}"


def _met(met: bool | None) -> str:
    if met is None:
        return "not measured"
    return "[green]met[/green]" if met else "[red]not met[/red]"


def print_results(results: dict, previous: dict | None) -> None:
    batch = results["batch"]
    table = Table(title="throughput — batch path: submit_batch + run_local, a fresh SQLite "
                        "store per run", title_justify="left")
    for column in ("documents", "workers", "docs", "pages", "docs/s", "pages/s",
                   "median s/doc", "p95 s/doc", "peak RSS/worker", "fields exact / near",
                   "failed"):
        table.add_column(column, justify="left" if column == "documents" else "right")
    for group, runs in batch.items():
        for workers, s in runs.items():
            table.add_row(GROUPS[group], workers, str(s["documents"]), str(s["pages"]),
                          _num(s["docs_per_s"]), _num(s["pages_per_s"], ".1f"),
                          _num(s["median_s"]), _num(s["p95_s"]),
                          _num(s["peak_worker_rss_mb"], ".0f", " MB"), _fields(s["fields"]),
                          str(len(s["failed"])))
    console.print(table)
    for runs in batch.values():
        for s in runs.values():
            for failure in s["failed"][:3]:
                console.print(f"[red]failed[/red] {failure}")

    table = Table(title="time per stage — each document's batch item processed in one process "
                        "(process_item), each stage timing itself (mean seconds per document, "
                        "first load not counted)", title_justify="left")
    table.add_column("documents")
    table.add_column("n", justify="right")
    for title in (*STAGE_TITLES, "other (store, glue)", "total"):
        table.add_column(title, justify="right")
    for group, s in results["stages"]["groups"].items():
        table.add_row(GROUPS[group], str(s["documents"]),
                      *(_num(s["mean_s"][stage], ".3f") for stage in (*STAGES, "other")),
                      _num(s["total_mean_s"], ".3f"))
    console.print(table)
    for s in results["stages"]["groups"].values():
        for failure in s["failed"][:3]:
            console.print(f"[red]refused in the stage pass[/red] {failure}")

    signed = batch["signed"]["2"]
    console.print(f"cache hit (inspect_document on a store that has the inspection, "
                  f"{GROUPS['signed']}): median {_num(signed['cache_hit_median_ms'])} ms, "
                  f"p95 {_num(signed['cache_hit_p95_ms'])} ms; "
                  f"{GROUPS['long']}: median "
                  f"{_num(batch['long']['2']['cache_hit_median_ms'])} ms; "
                  f"{GROUPS['scan']}: median {_num(batch['scan']['2']['cache_hit_median_ms'])} ms")

    if results["ocrmypdf"]:
        table = Table(title="scans — kiemchung vs ocrmypdf -l vie + PyMuPDF text + our field "
                            "extraction, same files (ours / theirs: against the fastest "
                            "ocrmypdf route on as many cores)", title_justify="left")
        for column in ("route", "cores", "docs/s", "pages/s", "median s/doc", "p95 s/doc",
                       "fields exact / near", "ours / theirs"):
            table.add_column(column, justify="left" if column == "route" else "right")
        speedups = {r["n"]: r["speedup"] for r in scan_comparison(results)}
        rows = [(f"kiemchung, {n} worker(s)", int(n), batch["scan"][n],
                 _num(speedups.get(n), ".2f", "×")) for n in ("1", "2")]
        rows += [(r["route"], r["cores"], r, "") for r in results["ocrmypdf"]]
        for name, cores, summary, ratio in sorted(rows, key=lambda row: row[1]):
            table.add_row(name, str(cores), _num(summary["docs_per_s"], ".3f"),
                          _num(summary["pages_per_s"], ".3f"), _num(summary["median_s"]),
                          _num(summary["p95_s"]), _fields(summary["fields"]), ratio)
        console.print(table)
        for route in results["ocrmypdf"]:
            for failure in route["failed"][:3]:
                console.print(f"[red]failed[/red] {route['route']}: {failure}")

    cli = results["pyhanko_cli"]
    if cli:
        table = Table(title=f"signatures — kiemchung ({signed['documents']} signed files) vs "
                            f"pyhanko sign validate (the first {cli['1']['documents']} of "
                            "them), the same trust", title_justify="left")
        for column in ("route", "docs/s", "median s/doc", "ours / theirs"):
            table.add_column(column, justify="left" if column == "route" else "right")
        stage = results["stages"]["groups"].get("signed")
        for n in ("1", "2"):
            ours = batch["signed"][n]
            table.add_row(f"kiemchung full inspection + verdict, {n} worker(s)",
                          _num(ours["docs_per_s"]), _num(ours["median_s"]),
                          _num(_ratio(ours["docs_per_s"], cli[n]["docs_per_s"]), ".2f", "×"))
            table.add_row(f"pyhanko CLI, {n} file(s) at a time", _num(cli[n]["docs_per_s"]),
                          _num(cli[n]["median_s"]), "")
        if stage:
            sig = stage["mean_s"]["signatures"]
            table.add_row("kiemchung signature stage alone, 1 process", _num(1 / sig),
                          _num(sig), _num(_ratio(1 / sig, cli["1"]["docs_per_s"]), ".2f", "×"))
        console.print(table)
        agree, total = signature_agreement(results)
        console.print(f"pyhanko CLI start-up alone (pyhanko --version): "
                      f"{cli['startup_s']:.2f} s per call; same verdict (all signatures valid "
                      f"or not) on {agree} of {total} files")

    table = Table(title="targets", title_justify="left")
    table.add_column("target")
    table.add_column("measured")
    table.add_column("")
    for target in results["targets"]:
        table.add_row(target["target"], target["measured"], _met(target["met"]))
    console.print(table)

    if results["failed_documents"]:
        console.print(f"[red]{results['failed_documents']} document(s) failed in this run: "
                      "its speeds cover less than the whole work[/red]")
    if previous and "headline" in previous:
        console.print(f"change since the previous run ({previous.get('started', '?')}):")
        if previous.get("failed_documents", 0):
            console.print(f"  [yellow]the previous run had {previous['failed_documents']} "
                          "failed document(s): its speeds are not comparable[/yellow]")
        for name, now in results["headline"].items():
            before = previous["headline"].get(name, {}).get("value")
            value = now["value"]
            if before is None or value is None:
                continue
            change = (value - before) / before if before else 0.0
            better = (change > 0) == now["higher_is_better"]
            colour = "green" if better else "red"
            console.print(f"  {name}: {before:.4g} → {value:.4g} "
                          f"([{colour}]{change:+.1%}[/{colour}])" if abs(change) >= 0.005
                          else f"  {name}: {before:.4g} → {value:.4g} (same)")
    load = results["machine"]
    console.print(f"load average before / after: {load['load_average_before'][0]:.2f} / "
                  f"{load['load_average_after'][0]:.2f} on {load['cpus']} CPUs; "
                  f"whole run {results['seconds']:.0f} s (corpus "
                  f"{results['phases']['corpus']:.0f} s)")


def save_results(root: Path, results: dict, last_run: Path = LAST_RUN) -> dict | None:
    """Write results.json, keeping the one before as previous.json, and the run's headline in
    `last_run` (committed, so that a fresh checkout has a run to compare with); return the
    previous run: the one before in `root`, else the committed one."""
    current, previous_path = root / "results.json", root / "previous.json"
    previous = None
    if current.exists():
        previous = json.loads(current.read_text(encoding="utf-8"))
        current.replace(previous_path)
    elif last_run.exists():
        previous = json.loads(last_run.read_text(encoding="utf-8"))
    current.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str),
                       encoding="utf-8")
    headline = {key: results[key] for key in ("started", "failed_documents", "headline",
                                              "machine") if key in results}
    last_run.write_text(json.dumps(headline, ensure_ascii=False, indent=1, default=str) + "\n",
                        encoding="utf-8")
    return previous


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(".bench"),
                        help="corpus cache and results (default: .bench)")
    args = parser.parse_args(argv)
    results = run(args.dir.resolve())
    previous = save_results(args.dir, results)
    print_results(results, previous)
    console.print(f"results written to {args.dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
