"""Samples an auditor drew, kept to be worked through: each verdict of the sample and the
auditor's outcome for it. Drawing and every decision are in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from kiemchung.api.store import NotFound, Store, StoreError
from kiemchung.api.store.tables import AuditEntry, SampleItemRow, SampleRow, utcnow

OUTCOMES = ("agree", "disagree", "unsure")


@dataclass(frozen=True)
class SampleSummary:
    sample: SampleRow
    size: int
    decided: int


def create_sample(store: Store, *, seed: int, params: dict[str, Any], population: int,
                  verdict_ids: list[int], actor: int | None) -> SampleRow:
    """The sample with its items, and the `sample.draw` entry naming its seed and verdicts,
    written together."""
    with store.session() as session:
        sample = SampleRow(seed=seed, params=params, population=population, created_by=actor)
        session.add(sample)
        session.flush()
        session.add_all(SampleItemRow(sample_id=sample.id, verdict_id=verdict_id)
                        for verdict_id in verdict_ids)
        session.add(AuditEntry(actor_key_id=actor, action="sample.draw", subject=f"sample:{seed}",
                               details={"seed": seed, **params, "population": population,
                                        "verdicts": verdict_ids, "sample_id": sample.id}))
        session.flush()
        return sample


def get_sample(store: Store, sample_id: int) -> SampleRow:
    with store.session() as session:
        sample = session.get(SampleRow, sample_id)
        if sample is None:
            raise NotFound(f"no sample {sample_id}")
        return sample


def sample_items(store: Store, sample_id: int) -> list[SampleItemRow]:
    """The items of a sample in verdict order (the order of the draw)."""
    with store.session() as session:
        return list(session.scalars(select(SampleItemRow)
                                    .where(SampleItemRow.sample_id == sample_id)
                                    .order_by(SampleItemRow.verdict_id)))


def list_samples(store: Store, *, limit: int = 200) -> list[SampleSummary]:
    """The newest samples first, each with how many items it has and how many are decided."""
    counts = (select(SampleItemRow.sample_id, func.count().label("size"),
                     func.count(SampleItemRow.outcome).label("decided"))
              .group_by(SampleItemRow.sample_id).subquery())
    query = (select(SampleRow, counts.c.size, counts.c.decided)
             .outerjoin(counts, counts.c.sample_id == SampleRow.id)
             .order_by(SampleRow.id.desc()).limit(limit))
    with store.session() as session:
        return [SampleSummary(sample, size or 0, decided or 0)
                for sample, size, decided in session.execute(query)]


def set_outcome(store: Store, sample_id: int, item_id: int, outcome: str, note: str | None, *,
                actor: int | None) -> SampleItemRow:
    """Record the auditor's outcome for one item of this sample (an item of another sample
    is not found here); deciding again replaces the outcome, and each decision is logged."""
    if outcome not in OUTCOMES:
        raise StoreError(f"unknown outcome {outcome!r} (known: {', '.join(OUTCOMES)})")
    note = (note or "").strip() or None
    with store.session() as session:
        item = session.get(SampleItemRow, item_id)
        if item is None or item.sample_id != sample_id:
            raise NotFound(f"no item {item_id} in sample {sample_id}")
        item.outcome, item.note, item.decided_by, item.decided_at = outcome, note, actor, utcnow()
        session.add(AuditEntry(actor_key_id=actor, action="sample.decide",
                               subject=f"verdict:{item.verdict_id}",
                               details={"sample_id": sample_id, "item_id": item.id,
                                        "outcome": outcome, "note": note}))
        session.flush()
        return item
