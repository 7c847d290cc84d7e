"""`kiemchung campaign`: the host's side of an assessment round (đợt đánh giá) — create it,
add the units assessed, set the phase windows, show it and its progress, publish it and
re-open it. Units, appraisers and the portal act over the HTTP API (`/v1/campaigns`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from kiemchung.api.cli.common import REQUIRED, YearOption, console, fail, points, report_path, run
from kiemchung.models.errors import ExitCode
from kiemchung.verifier.publication import publication_csv, publication_xlsx

campaign_app = typer.Typer(help="Assessment rounds: campaigns, their units and phase windows.",
                           no_args_is_help=True)
units_app = typer.Typer(help="The units a campaign assesses.", no_args_is_help=True)
phase_app = typer.Typer(help="The phase windows of a campaign.", no_args_is_help=True)
campaign_app.add_typer(units_app, name="units")
campaign_app.add_typer(phase_app, name="phase")

CampaignId = Annotated[int, typer.Argument(metavar="CAMPAIGN", help="the campaign's id")]


def _store():
    from kiemchung.api.store import open_store

    return open_store()


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} {value!r}: not a date such as 2025-03-01", ExitCode.BAD_INPUT)


@campaign_app.command("create")
def create(name: Annotated[str, typer.Argument(help="e.g. \"DTI 2024\"")],
           ruleset: Annotated[str, typer.Option(help="rule set id (see `kiemchung rulesets`)")]
           = REQUIRED,
           year: YearOption = REQUIRED) -> None:
    """Create a campaign; no phase is open until `kiemchung campaign phase set`."""
    from kiemchung.api import campaigns

    def action():
        with _store() as store:
            return campaigns.create_campaign(store, name, ruleset, year)

    row = run(action)
    console.print(f"campaign {row.id} [bold]{row.name}[/bold]: {row.ruleset_id}, {row.year}",
                  highlight=False)


@units_app.command("add")
def add_unit(campaign_id: CampaignId,
             unit: Annotated[str, typer.Argument(help="e.g. \"UBND huyện Phú Vang\"")],
             level: Annotated[str, typer.Option(help="so, huyen or xa")] = REQUIRED,
             parent: Annotated[Optional[str], typer.Option(
                 help="the unit that assesses it (a commune's district)")] = None) -> None:
    """Add a unit to the campaign."""
    from kiemchung.api import campaigns

    def action():
        with _store() as store:
            return campaigns.add_unit(store, campaign_id, unit, level, parent)

    row = run(action)
    under = f", assessed by {row.parent}" if row.parent else ""
    console.print(f"campaign {campaign_id}: {row.unit} ({row.level}{under})", highlight=False)


@phase_app.command("set")
def set_phase(campaign_id: CampaignId,
              phase: Annotated[str, typer.Argument(
                  help="self_assessment, appraisal, explanation, second_appraisal or "
                       "publication")],
              opens: Annotated[str, typer.Option(help="first day, e.g. 2025-03-01")] = REQUIRED,
              closes: Annotated[str, typer.Option(help="last day, included")] = REQUIRED
              ) -> None:
    """Set (or move) a phase's window; days in Vietnam's calendar, both included."""
    from kiemchung.api.store import campaigns as db

    opens_on, closes_on = _date(opens, "--opens"), _date(closes, "--closes")

    def action():
        with _store() as store:
            return db.set_phase(store, campaign_id, phase, opens_on, closes_on)

    row = run(action)
    console.print(f"campaign {campaign_id}: {row.phase} from {row.opens_on.isoformat()} to "
                  f"{row.closes_on.isoformat()}", highlight=False)


@campaign_app.command("show")
def show(campaign_id: CampaignId) -> None:
    """The campaign: its rule set, units and phase windows (open today or not)."""
    from kiemchung.api import campaigns
    from kiemchung.api.store import campaigns as db
    from kiemchung.api.store.tables import Phase

    def action():
        with _store() as store:
            return (db.get_campaign(store, campaign_id), db.campaign_units(store, campaign_id),
                    db.campaign_phases(store, campaign_id),
                    db.campaign_appraisers(store, campaign_id))

    row, units, phases, appraisers = run(action)
    today = campaigns.today()
    console.print(f"campaign {row.id} [bold]{row.name}[/bold]: rule set {row.ruleset_id}, "
                  f"year {row.year}; today is {today.isoformat()}", highlight=False)
    windows = Table(title="phases", title_justify="left")
    for column in ("phase", "opens", "closes", "open today"):
        windows.add_column(column)
    for phase in Phase:
        w = phases.get(phase)
        windows.add_row(phase.value, w.opens_on.isoformat() if w else "—",
                        w.closes_on.isoformat() if w else "—",
                        ("yes" if w.opens_on <= today <= w.closes_on else "no") if w
                        else "not set")
    console.print(windows)
    table = Table(title="units", title_justify="left")
    for column in ("unit", "level", "assessed by"):
        table.add_column(column, overflow="fold")
    for unit in units:
        table.add_row(unit.unit, unit.level, unit.parent or "—")
    console.print(table)
    for appraiser in appraisers:
        console.print(f"appraiser key {appraiser.key_id}: criteria under "
                      f"{', '.join(appraiser.criterion_prefixes) or 'any'}", highlight=False)


@campaign_app.command("status")
def status(campaign_id: CampaignId) -> None:
    """Progress per unit: drafts, submitted, pre-screened, appraised, explained, points."""
    from kiemchung.api import campaigns

    def action():
        with _store() as store:
            return campaigns.campaign_status(store, campaign_id)

    table = Table(title=f"campaign {campaign_id}", title_justify="left")
    columns = ("unit", "level", "criteria", "drafts", "submitted", "prescreened", "appraised",
               "explained", "second_appraised", "claimed_points", "final_points",
               "max_points")
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in run(action):
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table)


@campaign_app.command("publish")
def publish(campaign_id: CampaignId,
            out: Annotated[Optional[Path], typer.Option(
                help="also write the publication as report.csv or report.xlsx")] = None
            ) -> None:
    """Publish the campaign in its publication window: final scores, ranks, bands, frozen."""
    from kiemchung.api import campaigns

    out = report_path(out)

    def action():
        with _store() as store:
            row = campaigns.publish(store, campaign_id, actor=None)
            return row, campaigns.stored_publication(store, campaign_id, row.number)[1]

    row, result = run(action)
    table = Table(title=f"campaign {campaign_id} — publication {row.number}",
                  title_justify="left", caption=f"digest {row.digest}", caption_justify="left")
    for column in ("level", "rank", "unit", "total", "band", "claimed", "final", "difference"):
        table.add_column(column, overflow="fold")
    for u in result.units:
        table.add_row(u.level, str(u.rank), u.unit, points(u.total), u.band or "—",
                      points(u.claimed_total), points(u.final_total), points(u.difference))
    console.print(table)
    if out is not None:
        data = (publication_xlsx(result) if out.suffix.lower() == ".xlsx"
                else publication_csv(result))
        run(lambda: out.write_bytes(data))
        console.print(f"report written to {out}")


@campaign_app.command("reopen")
def reopen(campaign_id: CampaignId,
           reason: Annotated[str, typer.Option(help="why it is re-opened (kept with it)")]
           = REQUIRED) -> None:
    """Re-open a published campaign; its publication is kept, marked re-opened."""
    from kiemchung.api import campaigns

    def action():
        with _store() as store:
            return campaigns.reopen(store, campaign_id, reason, actor=None)

    row = run(action)
    console.print(f"campaign {campaign_id} re-opened; publication {row.number} is kept "
                  f"(digest {row.digest[:16]}…)", highlight=False)
