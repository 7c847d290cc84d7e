"""`kiemchung batch` (pre-screen a whole province from a folder, a ZIP or a manifest) and
`kiemchung worker` (a Celery worker for batches submitted with a broker configured)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from verifier.settings import load_settings

BROKER_POLL = 1.0       # seconds between progress reads while Celery workers run the batch


def batch(
    source: Annotated[Path, typer.Argument(
        help="folder laid out unit/criterion/files, a .zip of that layout, or a manifest CSV "
             "(unit,criterion,file[,level])")],
    ruleset: Annotated[str, typer.Option(
        "--ruleset", help="rule set id (see `kiemchung rulesets`) or a rule set YAML file")]
    = "hue-2024",
    year: Annotated[int, typer.Option(help="the evaluated year")] = ...,
    level: Annotated[Optional[str], typer.Option(help="level of every unit (else read from "
                                                      "the unit's name)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write report.csv or report.xlsx")] = None,
    trust_root: Annotated[Optional[list[Path]], typer.Option(
        "--trust-root", help="trusted root or intermediate certificate: PEM/DER file or folder "
                             "(repeatable; added to KIEMCHUNG_TRUST_ROOTS)")] = None,
    workers: Annotated[int, typer.Option(help="worker processes of a local run")] = 2,
    webhook: Annotated[Optional[str], typer.Option(
        help="URL to POST the signed summary to when the batch finishes")] = None,
) -> None:
    """Pre-screen many units at once: store the files, run every criterion of every unit
    (local worker processes, or Celery workers when KIEMCHUNG_BROKER_URL is set), show the
    totals and write the report."""
    from api.batch_input import ZipLimits, batch_from_path
    from api.jobs import BrokerUnavailable, dispatch, run_local, submit_batch
    from api.reports import batch_rows, batch_totals, write_report
    from api.store import open_store
    from verifier.cli import _fail, _level, _load_ruleset, _run, _trust, console, totals_table
    from verifier.ruleset import available_rulesets

    settings = load_settings()
    rules = _run(lambda: _load_ruleset(ruleset))
    unit_level = _level(level)
    if out is not None and out.suffix.lower() not in (".csv", ".xlsx"):
        _fail(f"{out}: the report must be .csv or .xlsx", 2)
    if workers < 1:
        _fail("--workers must be at least 1", 2)
    if settings.broker_url:
        if trust_root:
            _fail("--trust-root applies to a local run; with a broker the workers' trust "
                  "applies (KIEMCHUNG_TRUST_ROOTS, `kiemchung trust add`)", 2)
        if rules.id not in available_rulesets():
            _fail(f"{ruleset}: Celery workers load installed rule sets only", 2)
    trust = _run(lambda: _trust(trust_root))
    limits = ZipLimits(max_file_bytes=settings.max_upload_bytes)

    with _run(lambda: open_store(settings)) as store:
        with console.status("storing the files…"):
            found = _run(lambda: batch_from_path(store, source, rules, unit_level,
                                                 limits=limits))
        for refusal in found.refused:
            console.print(f"[yellow]refused[/yellow] {refusal.message}")
        items = found.items(rules)
        batch_id = _run(lambda: submit_batch(store, created_by=None, ruleset_id=rules.id,
                                             year=year, items=items, webhook_url=webhook,
                                             webhook_hosts=settings.webhook_hosts,
                                             refused=found.refused))
        console.print(f"batch {batch_id}: {len(found.units)} unit(s), {len(found.files)} "
                      f"file(s), {len(items)} criteria to judge")

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("[dim]{task.fields[current]}"),
                      console=console, transient=True) as bar:
            task = bar.add_task("starting", total=len(items) + len(found.refused), current="")

            def show(progress) -> None:
                counts = progress.counts
                current = progress.current
                bar.update(task, completed=counts["done"] + counts["failed"],
                           description=" · ".join(f"{state} {n}" for state, n in counts.items()),
                           current=f"{current.unit} / {current.criterion}" if current else "")

            if settings.broker_url:
                try:
                    dispatch(settings, batch_id)
                except BrokerUnavailable as error:
                    # Stored and queued: wait for a worker's sweep rather than have the
                    # operator run the batch a second time.
                    console.print(f"[yellow]warning[/yellow] {error.message}")
                while not (progress := store.batch_progress(batch_id)).finished:
                    show(progress)
                    time.sleep(BROKER_POLL)
                show(progress)
            else:
                _run(lambda: run_local(settings, batch_id, workers=workers, trust=trust,
                                       ruleset=rules, progress=show))

        rows = batch_rows(store, batch_id)
        totals = batch_totals(rules, rows, year)
    console.print(totals_table(totals, f"{rules.id} {year} — batch {batch_id}"))
    failed = [r for r in rows if r.status == "failed"]
    if failed:
        console.print(f"[red]{len(failed)} item(s) failed[/red] (see the report's summary "
                      "column)")
    if out is not None:
        _run(lambda: write_report(out, rows, totals))
        console.print(f"report written to {out}")


def worker(
    concurrency: Annotated[int, typer.Option(help="tasks run at once (worker processes)")] = 2,
    beat: Annotated[bool, typer.Option("--beat/--no-beat", help="also sweep the job table "
                                       "every KIEMCHUNG_SWEEP_INTERVAL seconds: lost items "
                                       "and lost messages (harmless on several workers)")] = True,
    loglevel: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
) -> None:
    """Run a Celery worker for batches (needs KIEMCHUNG_BROKER_URL). Start one per machine;
    more machines scale out."""
    from api.worker import start_worker
    from verifier.cli import _run

    os.environ["OMP_THREAD_LIMIT"] = "1"     # Tesseract: one thread per task, tasks in parallel
    settings = load_settings()
    _run(lambda: start_worker(settings, concurrency=concurrency, beat=beat, loglevel=loglevel))


def register_batch_commands(app: typer.Typer) -> None:
    app.command()(batch)
    app.command()(worker)
