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

from kiemchung.api.cli import common
from kiemchung.api.cli.common import (
    REQUIRED,
    LevelOption,
    ReportOption,
    RulesetOption,
    TrustRootOption,
    YearOption,
    console,
    fail,
    run,
)
from kiemchung.models.errors import ExitCode
from kiemchung.verifier.settings import load_settings

BROKER_POLL = 1.0       # seconds between progress reads while Celery workers run the batch


def batch(
    source: Annotated[Path, typer.Argument(
        help="folder laid out unit/criterion/files, a .zip of that layout, or a manifest CSV "
             "(unit,criterion,file[,level])")],
    ruleset: RulesetOption = "hue-2024",
    year: YearOption = REQUIRED,
    level: LevelOption = None,
    out: ReportOption = None,
    trust_root: TrustRootOption = None,
    workers: Annotated[int, typer.Option(help="worker processes of a local run")] = 2,
    webhook: Annotated[Optional[str], typer.Option(
        help="URL to POST the signed summary to when the batch finishes")] = None,
) -> None:
    """Pre-screen many units at once: store the files, run every criterion of every unit
    (local worker processes, or Celery workers when KIEMCHUNG_BROKER_URL is set), show the
    totals and write the report."""
    from kiemchung.api.jobs.batch_input import ZipLimits, batch_from_path
    from kiemchung.api.jobs.batches import BrokerUnavailable, dispatch, run_local, submit_batch
    from kiemchung.api.service import batch_report
    from kiemchung.api.store import open_store
    from kiemchung.verifier.reports import write_report
    from kiemchung.verifier.ruleset import available_rulesets

    settings = load_settings()
    rules = common.ruleset(ruleset)
    unit_level = common.level(level)
    out = common.report_path(out)
    if workers < 1:
        fail("--workers must be at least 1", ExitCode.BAD_INPUT)
    if settings.broker_url:
        if trust_root:
            fail("--trust-root applies to a local run; with a broker the workers' trust "
                  "applies (KIEMCHUNG_TRUST_ROOTS, `kiemchung trust add`)",
                 ExitCode.BAD_INPUT)
        if rules.id not in available_rulesets():
            fail(f"{ruleset}: Celery workers load installed rule sets only", ExitCode.BAD_INPUT)
    trust = common.trust(trust_root)
    limits = ZipLimits(max_file_bytes=settings.max_upload_bytes)

    with run(lambda: open_store(settings)) as store:
        with console.status("storing the files…"):
            found = run(lambda: batch_from_path(store, source, rules, unit_level,
                                                 limits=limits))
        for refusal in found.refused:
            console.print(f"[yellow]refused[/yellow] {refusal.message}")
        items = found.items(rules)
        batch_id = run(lambda: submit_batch(store, created_by=None, ruleset_id=rules.id,
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
                run(lambda: run_local(settings, batch_id, workers=workers, trust=trust,
                                       ruleset=rules, progress=show))

        rows, totals = batch_report(store, batch_id, rules)
    console.print(common.totals_table(totals, f"{rules.id} {year} — batch {batch_id}"))
    failed = [r for r in rows if r.status == "failed"]
    if failed:
        console.print(f"[red]{len(failed)} item(s) failed[/red] (see the report's summary "
                      "column)")
    if out is not None:
        run(lambda: write_report(out, rows, totals))
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
    from kiemchung.api.jobs.worker import start_worker

    os.environ["OMP_THREAD_LIMIT"] = "1"     # Tesseract: one thread per task, tasks in parallel
    settings = load_settings()
    run(lambda: start_worker(settings, concurrency=concurrency, beat=beat, loglevel=loglevel))
