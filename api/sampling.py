"""Auditor sampling: a random sample of the flagged (or all) verdicts, by size or by rate,
shared by the API (`POST /v1/samples`) and the pages (`/samples`).

The same seed over the same verdicts draws the same sample: the population is in verdict-id
order, so the draw depends on the seed alone. Every draw is kept (`api.store.samples`) and in
the audit log with its seed and what it picked, so a sample can be shown to have been drawn
fairly."""

from __future__ import annotations

import math
import random
import secrets
from typing import Any

from kiemchung.api.service import flagged_items
from kiemchung.api.store import Store
from kiemchung.api.store.samples import create_sample

# Seeds are chosen below this when none is given (and the API accepts up to MAX_SEED).
RANDOM_SEEDS = 2**31


def draw_sample(store: Store, actor: int | None, *, size: int | None = None,
                rate: float | None = None, seed: int | None = None, only_flagged: bool = True,
                unit: str | None = None, criterion: str | None = None) -> dict[str, Any]:
    """Draw, keep and log a sample of `size` items or of the share `rate` (exactly one)."""
    if (size is None) == (rate is None):
        raise ValueError("give either size or rate")
    seed = seed if seed is not None else secrets.randbelow(RANDOM_SEEDS)
    population = flagged_items(store, unit=unit, criterion=criterion, only_flagged=only_flagged)
    wanted = size if size is not None else math.ceil((rate or 0) * len(population))
    chosen = random.Random(seed).sample(population, min(wanted, len(population)))
    chosen.sort(key=lambda item: item["verdict_id"])
    sample = create_sample(store, seed=seed, population=len(population), actor=actor,
                           verdict_ids=[item["verdict_id"] for item in chosen],
                           params={"size": size, "rate": rate, "only_flagged": only_flagged,
                                   "unit": unit, "criterion": criterion})
    return {"sample_id": sample.id, "seed": seed, "population": len(population),
            "size": len(chosen), "only_flagged": only_flagged, "items": chosen}
