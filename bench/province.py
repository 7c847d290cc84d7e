"""`make bench-province`: a province's evidence through the real batch path, and what it costs.

A province hands in about 3,000 documents a round, a fifth of them scans. A sample of such a mix
(`--sample`, 120 by default) is generated once and cached in `.bench/province-<key>/`:
born-digital documents signed by the person and the agency, and 200-dpi scans with seal and
signature, their lengths drawn from the real documents of `../shared/realdocs` (1 to 8 pages
there), and a few documents handed in twice (the same bytes under two units: the second is a
cache hit). It then goes through `submit_batch` + `run_local` on a fresh SQLite store with 1 and
2 worker processes, and, when Redis and PostgreSQL answer on this machine, through Celery: one
worker process running 2 tasks at once (one machine) and two worker processes of one task each
(what a second machine adds, both sharing this machine's two cores). Each run gives its wall
time, start-up, documents/s, peak worker memory, and the time projected for the whole province:
the workers' start-up once, then the sample's pace (first item started to last finished) for
3,000 documents — labelled as a projection, with the sample's wall time scaled whole beside it.

    python -m bench.province [--sample 120] [--dir .bench]     (or `make bench-province`)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.run import (
    bench_settings,
    generated_once,
    generator_key,
    in_fresh_process,
    submit_entries,
)

PROVINCE_DOCUMENTS = 3000
SCAN_SHARE = 0.2
DUPLICATE_SHARE = 0.05
TARGET_MINUTES = 15.0
SEED = 2026
MIX_FORMAT = 2                  # bump when the mix below changes shape
REALDOCS = Path(__file__).resolve().parents[2] / "shared" / "realdocs" / "files"
# Page counts of the real set, when it is not on this machine (its counts as of this writing).
REAL_PAGES_FALLBACK = (3, 1, 4, 2, 3, 3, 4, 1, 1, 2, 1, 3, 6, 8, 8, 3, 1, 2, 2, 1, 1, 6, 2, 2, 1)
REDIS_URL = "redis://127.0.0.1:6379/14"
POSTGRES_URL = "postgresql+psycopg://127.0.0.1:5432/test"
CELERY_WAIT = 3600.0            # seconds a Celery run may take before it is given up

console = Console(width=int(os.environ.get("COLUMNS", 0)) or (None if sys.stdout.isatty() else 140))


def real_page_counts() -> tuple[int, ...]:
    import pymupdf

    counts = []
    for path in sorted(REALDOCS.glob("*.pdf")):
        try:
            with pymupdf.open(path) as doc:
                counts.append(doc.page_count)
        except Exception:   # noqa: BLE001 — an unreadable file has no length to lend
            continue
    return tuple(counts) or REAL_PAGES_FALLBACK


def build_mix(root: Path, sample: int) -> Path:
    """The sample folder (trust/, files/, province-manifest.json), generated once per key."""
    pages = real_page_counts()
    return generated_once(root, "province", generator_key(MIX_FORMAT, SEED, sample, pages),
                          "province-manifest.json",
                          lambda partial: _write_mix(partial, sample, pages))


def _write_mix(partial: Path, sample: int, pages: tuple[int, ...]) -> None:
    from samples.content import make_spec
    from samples.pki import DemoPKI
    from samples.render import count_pages, render_pdf_with_layout, with_pages
    from samples.scan import scan_pages, to_image_pdf
    from samples.sign import sign_as_printed

    (partial / "files").mkdir()
    pki = DemoPKI.create("kiemchung-province")
    pki.write_trust_dir(partial / "trust")
    rng = random.Random(SEED)
    entries: list[dict] = []
    originals = sample - round(sample * DUPLICATE_SHARE)
    scans = set(rng.sample(range(originals), round(originals * SCAN_SHARE)))
    for index in range(originals):
        seed = rng.randrange(2**31)
        wanted = rng.choice(pages)
        spec = make_spec(random.Random(seed))
        if count_pages(spec) < wanted:
            spec = with_pages(spec, wanted)
        scanned = index in scans
        pdf, layout = render_pdf_with_layout(spec)
        if scanned:
            data = to_image_pdf(scan_pages(pdf, layout, dpi=200, seed=seed), 200)
        else:
            data = sign_as_printed(pdf, spec, pki)
        name = f"files/{index + 1:04d}-{'scan' if scanned else 'signed'}-{spec.doc_type.value}.pdf"
        (partial / name).write_bytes(data)
        entries.append({"file": name, "group": "scan" if scanned else "signed",
                        "pages": layout.page_count, "unit": spec.agency.unit_name,
                        "level": spec.agency.level, "duplicate": False})
    for _ in range(sample - originals):      # handed in again, by another unit
        again = dict(rng.choice(entries[:originals]))
        donor = rng.choice(entries[:originals])
        entries.append({**again, "unit": donor["unit"], "level": donor["level"],
                        "duplicate": True})
    (partial / "province-manifest.json").write_text(
        json.dumps({"documents": entries}, ensure_ascii=False, indent=1), encoding="utf-8")


def _submit(settings, folder: Path, entries: list[dict]) -> str:
    from kiemchung.api.store import open_store

    with open_store(settings) as store:
        return submit_entries(store, folder, entries)


def _outcome(settings, batch_id: str, started) -> dict:
    """Items done and failed; the start-up (from `started`, UTC, to the first item claimed)
    and the working time (first item started to last finished)."""
    from kiemchung.api.store import open_store

    with open_store(settings) as store:
        rows = store.batch_items(batch_id)
    starts = [r.started_at for r in rows if r.started_at is not None]
    ends = [r.finished_at for r in rows if r.finished_at is not None]
    timed = bool(starts and ends)
    return {"done": sum(r.state == "done" for r in rows),
            "failed": [r.error for r in rows if r.state == "failed"],
            "startup_seconds": (min(starts) - started).total_seconds() if timed else None,
            "working_seconds": (max(ends) - min(starts)).total_seconds() if timed else None}


def local_run(folder: Path, entries: list[dict], workers: int, data_dir: Path) -> dict:
    """The embedded default: run_local's worker processes on a SQLite store."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    from kiemchung.api.jobs.pool import run_local
    from kiemchung.api.store.tables import utcnow

    settings = bench_settings(folder, data_dir)
    batch_id = _submit(settings, folder, entries)
    started, utc = time.perf_counter(), utcnow()
    run_local(settings, batch_id, workers=workers)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"route": f"local pool, {workers} worker(s), SQLite", "wall_seconds": wall,
            "peak_worker_rss_mb": peak, **_outcome(settings, batch_id, utc)}


def _services_answer() -> str | None:
    """None when Redis and PostgreSQL answer, else why the Celery runs are left out."""
    import redis
    import sqlalchemy

    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2) as client:
            client.ping()
    except Exception as error:   # noqa: BLE001
        return f"Redis does not answer at {REDIS_URL} ({type(error).__name__})"
    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:   # noqa: BLE001
        return f"PostgreSQL does not answer at {POSTGRES_URL} ({type(error).__name__})"
    return None


def celery_run(folder: Path, entries: list[dict], processes: int, concurrency: int,
               data_dir: Path) -> dict:
    """`processes` real `kiemchung worker` processes of `concurrency` tasks each, on Redis and
    a fresh PostgreSQL schema; the time from dispatch to the last item finished."""
    import sqlalchemy
    from sqlalchemy.engine import make_url

    from kiemchung.api.jobs.batches import dispatch
    from kiemchung.api.store import open_store
    from kiemchung.api.store.tables import utcnow

    schema = f"kc_bench_{os.getpid()}_{processes}x{concurrency}"
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict(
        {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    queue = f"kiemchung-bench-{os.getpid()}"
    settings = bench_settings(folder, data_dir, database_url=url, broker_url=REDIS_URL,
                         broker_queue=queue)
    workers: list[subprocess.Popen] = []
    try:
        batch_id = _submit(settings, folder, entries)
        env = {**os.environ, "KIEMCHUNG_BROKER_URL": REDIS_URL, "KIEMCHUNG_BROKER_QUEUE": queue,
               "KIEMCHUNG_DATA_DIR": str(data_dir), "KIEMCHUNG_DATABASE_URL": url,
               "KIEMCHUNG_TRUST_ROOTS": str(folder / "trust"), "OMP_THREAD_LIMIT": "1"}
        command = [str(Path(sys.executable).with_name("kiemchung")), "worker", "--concurrency",
                   str(concurrency), "--no-beat", "--loglevel", "WARNING"]
        workers = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
                   for _ in range(processes)]
        started, utc = time.perf_counter(), utcnow()
        dispatch(settings, batch_id)
        with open_store(settings) as store:
            while not store.batch_progress(batch_id).finished:
                if time.perf_counter() - started > CELERY_WAIT:
                    raise TimeoutError(f"not finished in {CELERY_WAIT:.0f} s")
                time.sleep(0.5)
        wall = time.perf_counter() - started
        return {"route": f"Celery/Redis + PostgreSQL, {processes} worker process(es) × "
                         f"{concurrency} task(s)", "wall_seconds": wall,
                "peak_worker_rss_mb": _group_peak_mb(workers),
                **_outcome(settings, batch_id, utc)}
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        _forget_queue(queue)
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _group_peak_mb(workers: list[subprocess.Popen]) -> float | None:
    """The largest peak resident size (VmHWM) among the worker processes' children now."""
    peaks = []
    groups = {w.pid for w in workers}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) not in groups:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks) if peaks else None


def _forget_queue(queue: str) -> None:
    import redis

    with redis.Redis.from_url(REDIS_URL) as client:
        client.delete(queue, f"_kombu.binding.{queue}")


def summarise(run: dict, entries: list[dict]) -> dict:
    """The projection for the province: the workers start once, then go at the sample's pace
    (its working time per document); the sample's wall time scaled whole, which counts the
    start-up once per sample, is kept beside it."""
    rate = len(entries) / run["wall_seconds"] if run["wall_seconds"] else None
    scaled = PROVINCE_DOCUMENTS / rate / 60 if rate else None
    projected = scaled
    if run.get("startup_seconds") is not None and run.get("working_seconds"):
        projected = (run["startup_seconds"]
                     + run["working_seconds"] * PROVINCE_DOCUMENTS / len(entries)) / 60
    return {**run, "documents": len(entries), "docs_per_s": rate,
            "projected_province_minutes": projected, "wall_scaled_minutes": scaled,
            "met": projected is not None and projected <= TARGET_MINUTES and not run["failed"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=120, help="documents in the sample")
    parser.add_argument("--dir", type=Path, default=Path(".bench"))
    parser.add_argument("--no-celery", action="store_true", help="the local pool only")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]province bench[/bold]: a sample of {args.sample} documents "
                  f"({SCAN_SHARE:.0%} scans, {DUPLICATE_SHARE:.0%} handed in twice)")
    folder = build_mix(args.dir.resolve(), args.sample)
    entries = json.loads((folder / "province-manifest.json").read_text())["documents"]
    pages = sum(e["pages"] for e in entries)
    console.print(f"mix: {folder.name}, {pages} pages, "
                  f"{sum(e['group'] == 'scan' for e in entries)} scans")
    runs = []
    with tempfile.TemporaryDirectory(prefix="kiemchung-province-") as scratch:
        for workers in (1, 2):
            console.print(f"local pool, {workers} worker(s) …")
            runs.append(in_fresh_process(local_run, folder, entries, workers,
                                         Path(scratch) / f"local-{workers}"))
        skipped = "--no-celery given" if args.no_celery else _services_answer()
        if skipped is None:
            for processes, concurrency in ((1, 2), (2, 1)):
                console.print(f"Celery, {processes} × {concurrency} …")
                runs.append(in_fresh_process(celery_run, folder, entries, processes,
                                             concurrency, Path(scratch) / f"celery-{processes}"))
    results = [summarise(run, entries) for run in runs]
    table = Table(title=f"{len(entries)} documents, {pages} pages — projected to "
                        f"{PROVINCE_DOCUMENTS:,} documents (target ≤ {TARGET_MINUTES:g} min)")
    for column in ("route", "wall s", "start-up s", "docs/s", "peak worker MB", "failed",
                   "province, projected", f"wall × {PROVINCE_DOCUMENTS / len(entries):.3g}", "met"):
        table.add_column(column)
    for r in results:
        table.add_row(r["route"], f"{r['wall_seconds']:.1f}",
                      "—" if r["startup_seconds"] is None else f"{r['startup_seconds']:.1f}",
                      f"{r['docs_per_s']:.2f}",
                      f"{r['peak_worker_rss_mb']:.0f}" if r["peak_worker_rss_mb"] else "—",
                      str(len(r["failed"])), f"{r['projected_province_minutes']:.1f} min",
                      f"{r['wall_scaled_minutes']:.1f} min", "yes" if r["met"] else "no")
    console.print(table)
    console.print(f"projected: the workers' start-up once, then the sample's working time "
                  f"(first item started → last finished) scaled to {PROVINCE_DOCUMENTS:,} "
                  "documents; the sample's wall time scaled whole beside it")
    if skipped is not None:
        console.print(f"Celery runs left out: {skipped}")
    else:
        one, two = results[-2], results[-1]
        console.print("A second worker machine: measured here as two worker processes sharing "
                      f"these two cores ({two['docs_per_s']:.2f} docs/s against "
                      f"{one['docs_per_s']:.2f} for one process of two tasks); with its own two "
                      f"cores it would add about {one['docs_per_s']:.2f} docs/s, the store and "
                      "the broker permitting.")
    (args.dir / "province.json").write_text(json.dumps(
        {"sample": len(entries), "pages": pages, "runs": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
